/* SPDX-License-Identifier: MIT */
/* view.c: shmbuf.View, a leased and mapped range exported through the buffer protocol.
 * Exports pin the lease: release() refuses while any exist, as bytearray refuses to resize. */
#include "pyshmbuf.h"

#include <errno.h>
#include <unistd.h>

static void view_link(ViewObject *self)
{
	ClientObject *cl = self->client;

	self->prev = NULL;
	self->next = cl->views;
	if (cl->views)
		cl->views->prev = self;
	cl->views = self;
}

/* Idempotent: a view leaves its client's list once, when released, detached or freed. */
static void view_unlink(ViewObject *self)
{
	ClientObject *cl = self->client;

	if (!cl || (!self->prev && cl->views != self))
		return;
	if (self->prev)
		self->prev->next = self->next;
	else
		cl->views = self->next;
	if (self->next)
		self->next->prev = self->prev;
	self->prev = self->next = NULL;
}

ViewObject *view_new(ClientObject *client, PyObject *name, const shmbuf_view *v)
{
	ViewObject *self = PyObject_New(ViewObject, &ViewType);

	if (!self)
		return NULL;
	self->client = (ClientObject *)Py_NewRef(client);
	self->name = Py_NewRef(name);
	self->v = *v;
	self->offset = v->offset;
	self->lease_id = v->lease_id;
	self->generation = v->generation;
	self->len = (Py_ssize_t)v->len;
	self->readonly = v->flags & SHMBUF_VIEW_READONLY;
	self->exports = 0;
	self->state = VIEW_HELD;
	view_link(self);
	return self;
}

void view_detach_all(ClientObject *client)
{
	while (client->views) {
		ViewObject *v = client->views;

		/* A view being released by another thread finishes that itself. */
		if (v->state == VIEW_HELD)
			v->state = VIEW_RELEASED;
		view_unlink(v);
	}
}

Py_ssize_t view_exports_of(const ClientObject *client)
{
	Py_ssize_t n = 0;

	for (const ViewObject *v = client->views; v; v = v->next)
		n += v->exports;
	return n;
}

static PyObject *released_error(void)
{
	PyErr_SetString(PyExc_ValueError, "operation on a released shmbuf.View");
	return NULL;
}

/* ---- the buffer protocol ---- */

static int view_getbuffer(ViewObject *self, Py_buffer *buf, int flags)
{
	if (self->state != VIEW_HELD) {
		buf->obj = NULL;
		released_error();
		return -1;
	}
	if ((flags & PyBUF_WRITABLE) && self->readonly) {
		buf->obj = NULL;
		PyErr_SetString(PyExc_BufferError,
				"shmbuf.View of a read lease is read-only: acquire(..., write=True) for a writable buffer");
		return -1;
	}
	if (PyBuffer_FillInfo(buf, (PyObject *)self, self->v.data, self->len, self->readonly, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void view_releasebuffer(ViewObject *self, Py_buffer *buf)
{
	self->exports--;
}

static PyBufferProcs view_as_buffer = {
	.bf_getbuffer = (getbufferproc)view_getbuffer,
	.bf_releasebuffer = (releasebufferproc)view_releasebuffer,
};

/* ---- release ---- */

static PyObject *view_release(ViewObject *self, PyObject *unused)
{
	ClientObject *cl = self->client;
	shmbuf_client *c;
	int r;

	if (self->state != VIEW_HELD)
		Py_RETURN_NONE;
	if (self->exports > 0) {
		PyErr_Format(PyExc_BufferError,
			     "cannot release a shmbuf.View while %zd buffer export(s) exist "
			     "(a memoryview or array still uses it); the lease is kept",
			     self->exports);
		return NULL;
	}
	/* A held view's client is open: close() detaches every view. */
	if (!(c = client_enter(cl)))
		return NULL;
	self->state = VIEW_RELEASING;
	Py_BEGIN_ALLOW_THREADS
	r = shmbuf_release(c, &self->v, sizeof(self->v));
	Py_END_ALLOW_THREADS
	if (r == -ECONNRESET && getpid() != cl->pid) {
		/* Inherited across fork(): the lease is the parent's and the mapping stays. */
		self->state = VIEW_HELD;
		client_leave(cl);
		return pyshmbuf_raise_forked("this shmbuf.View's client was inherited across fork(): "
					     "the lease stays the parent's");
	}
	/* Whatever the answer, the library has unmapped and forgotten the view. */
	self->state = VIEW_RELEASED;
	view_unlink(self);
	if (r < 0 && r != -ENOENT)
		pyshmbuf_raise(r, shmbuf_last_error_detail(), self->name);
	client_leave(cl);
	if (r < 0 && r != -ENOENT)
		return NULL;
	Py_RETURN_NONE;
}

/* Dropped while held: release it (with the GIL held, as a finalizer may run at interpreter
 * exit) and warn. A forked child leaves the parent's lease alone. */
static void view_finalize(ViewObject *self)
{
	PyObject *type, *value, *tb;
	ClientObject *cl = self->client;

	if (self->state != VIEW_HELD)
		return;
	PyErr_Fetch(&type, &value, &tb);
	if (cl->c && getpid() == cl->pid) {
		if (PyErr_ResourceWarning((PyObject *)self, 1, "unreleased shmbuf.View %R: released now", self) < 0)
			PyErr_WriteUnraisable((PyObject *)self);
		if (self->state == VIEW_HELD)
			shmbuf_release(cl->c, &self->v, sizeof(self->v));
	}
	self->state = VIEW_RELEASED;
	view_unlink(self);
	PyErr_Restore(type, value, tb);
}

static void view_dealloc(ViewObject *self)
{
	if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
		return; /* resurrected by the warning's machinery */
	view_unlink(self);
	Py_XDECREF(self->client);
	Py_XDECREF(self->name);
	PyObject_Free(self);
}

/* ---- the rest of the object ---- */

static Py_ssize_t view_length(ViewObject *self)
{
	if (self->state != VIEW_HELD) {
		released_error();
		return -1;
	}
	return self->len;
}

static PySequenceMethods view_as_sequence = {
	.sq_length = (lenfunc)view_length,
};

static PyObject *view_enter(ViewObject *self, PyObject *unused)
{
	if (self->state != VIEW_HELD)
		return released_error();
	return Py_NewRef(self);
}

static PyObject *view_exit(ViewObject *self, PyObject *args)
{
	PyObject *r = view_release(self, NULL);

	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyObject *view_get_offset(ViewObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->offset);
}

static PyObject *view_get_lease_id(ViewObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->lease_id);
}

static PyObject *view_get_generation(ViewObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->generation);
}

static PyObject *view_get_readonly(ViewObject *self, void *closure)
{
	return PyBool_FromLong(self->readonly);
}

static PyObject *view_get_released(ViewObject *self, void *closure)
{
	return PyBool_FromLong(self->state != VIEW_HELD);
}

static PyObject *view_get_name(ViewObject *self, void *closure)
{
	return Py_NewRef(self->name);
}

static PyObject *view_get_client(ViewObject *self, void *closure)
{
	return Py_NewRef(self->client);
}

static PyObject *view_repr(ViewObject *self)
{
	return PyUnicode_FromFormat("<shmbuf.View %R %s offset=%llu len=%zd lease_id=%llu%s>", self->name,
				    self->readonly ? "read" : "write", (unsigned long long)self->offset, self->len,
				    (unsigned long long)self->lease_id, self->state == VIEW_HELD ? "" : " released");
}

static PyMethodDef view_methods[] = {
	{ "release", (PyCFunction)view_release, METH_NOARGS,
	  "release($self, /)\n--\n\nEnd the lease and unmap. BufferError (and the lease is kept) while a\n"
	  "memoryview or array still uses the buffer. Afterwards buffer access raises ValueError.\n"
	  "Idempotent." },
	{ "__enter__", (PyCFunction)view_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)view_exit, METH_VARARGS, "release() on leaving the with block." },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef view_getset[] = {
	{ "offset", (getter)view_get_offset, NULL, "Offset of the first byte within the segment.", NULL },
	{ "lease_id", (getter)view_get_lease_id, NULL, "The daemon's id for this lease.", NULL },
	{ "generation", (getter)view_get_generation, NULL,
	  "The range's write generation when granted: the newest generation that wrote any of\n"
	  "its bytes, 0 if none did (pass it as acquire_newer()'s after).",
	  NULL },
	{ "readonly", (getter)view_get_readonly, NULL, "True for a read lease: the buffer is read-only.", NULL },
	{ "released", (getter)view_get_released, NULL, "True once the lease has ended.", NULL },
	{ "name", (getter)view_get_name, NULL, "The segment's name.", NULL },
	{ "client", (getter)view_get_client, NULL, "The Client that holds the lease.", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject ViewType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmbuf.View",
	.tp_basicsize = sizeof(ViewObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A leased, mapped byte range of a segment, from Client.acquire().\n\n"
		  "Speaks the buffer protocol: memoryview(v) and numpy.frombuffer(v) share the\n"
		  "mapping, no copy. A read lease's buffer is read-only (a writable request raises\n"
		  "BufferError). len(v) is its length in bytes. A context manager: leaving the with\n"
		  "block releases it. A view dropped unreleased is released with a ResourceWarning.",
	.tp_dealloc = (destructor)view_dealloc,
	.tp_finalize = (destructor)view_finalize,
	.tp_repr = (reprfunc)view_repr,
	.tp_as_sequence = &view_as_sequence,
	.tp_as_buffer = &view_as_buffer,
	.tp_methods = view_methods,
	.tp_getset = view_getset,
};
