/* SPDX-License-Identifier: MIT */
/* module.c: the shmbuf extension module itself: errors as Python exceptions, argument
 * converters, the info records (struct sequences) and the module's functions and types. */
#include "pyshmbuf.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- errors ---- */

/* The exception type for err. OSError(errno, ...) picks most subclasses by itself; EBUSY
 * (what BlockingIOError means here: busy, would have to wait) and the argument errors
 * (ValueError, not an OSError) are ours. */
static PyObject *error_type(int err)
{
	switch (-err) {
	case EINVAL:
	case ERANGE:
	case ENAMETOOLONG:
		return PyExc_ValueError;
	case EBUSY:
	case EAGAIN:
		return PyExc_BlockingIOError;
	case ENOENT:
		return PyExc_FileNotFoundError;
	case EEXIST:
		return PyExc_FileExistsError;
	case EACCES:
	case EPERM:
		return PyExc_PermissionError;
	case ETIMEDOUT:
		return PyExc_TimeoutError;
	case ECONNRESET:
		return PyExc_ConnectionResetError;
	case ECONNREFUSED:
		return PyExc_ConnectionRefusedError;
	case EPIPE:
		return PyExc_BrokenPipeError;
	case ENOMEM:
		return PyExc_MemoryError;
	}
	return PyExc_OSError;
}

/* When the daemon's detail already names the segment ("no segment named 'x'"), OSError's
 * str() would name it again: "[Errno 2] ...: no segment named 'x': 'x'". Such errors are
 * raised as a subclass of the usual type whose str() leaves the filename out (.filename is
 * still set). They pickle as the base type. One subclass per base, made on first use. */
static struct {
	PyObject *base; /* borrowed: a built-in exception type */
	PyObject *sub;  /* owned for the interpreter's lifetime */
} named_types[16];

static PyObject *named_str(PyObject *unused, PyObject *self)
{
	PyObject *no = PyObject_GetAttrString(self, "errno"), *words = NULL, *r = NULL;

	if (no && (words = PyObject_GetAttrString(self, "strerror"))) {
		if (no != Py_None && words != Py_None)
			r = PyUnicode_FromFormat("[Errno %S] %S", no, words);
		else /* not made by pyshmbuf_raise(): as OSError */
			r = ((PyTypeObject *)PyExc_OSError)->tp_str(self);
	}
	Py_XDECREF(no);
	Py_XDECREF(words);
	return r;
}

static PyObject *named_reduce(PyObject *unused, PyObject *self)
{
	PyObject *args = PyObject_GetAttrString(self, "args"), *filename = NULL, *full = NULL, *r = NULL;

	if (args && PyTuple_Check(args) && (filename = PyObject_GetAttrString(self, "filename"))) {
		if (PyTuple_GET_SIZE(args) == 2 && filename != Py_None)
			full = PyTuple_Pack(3, PyTuple_GET_ITEM(args, 0), PyTuple_GET_ITEM(args, 1), filename);
		else
			full = Py_NewRef(args);
		if (full)
			r = Py_BuildValue("(OO)", (PyObject *)Py_TYPE(self)->tp_base, full);
	}
	Py_XDECREF(args);
	Py_XDECREF(filename);
	Py_XDECREF(full);
	return r;
}

static PyMethodDef named_str_def = { "__str__", named_str, METH_O, NULL };
static PyMethodDef named_reduce_def = { "__reduce__", named_reduce, METH_O, NULL };

/* The subclass of base for errors whose message names the segment; NULL with an exception. */
static PyObject *named_type(PyObject *base)
{
	size_t i;
	PyObject *dict, *f, *m, *sub;
	const char *name = ((PyTypeObject *)base)->tp_name;

	for (i = 0; i < sizeof(named_types) / sizeof(named_types[0]) && named_types[i].base; i++)
		if (named_types[i].base == base)
			return named_types[i].sub;
	if (i == sizeof(named_types) / sizeof(named_types[0]))
		return base; /* cannot happen: error_type() has fewer types */
	dict = Py_BuildValue("{s:s,s:s,s:()}", "__module__", "shmbuf", "__doc__",
			     "A shmbuf error whose message already names the segment: str() leaves\n"
			     ".filename out. Pickles as its base class.",
			     "__slots__");
	if (!dict)
		return NULL;
	/* Functions in a class dict: instancemethod makes them bind to the instance. */
	f = PyCFunction_New(&named_str_def, NULL);
	m = f ? PyInstanceMethod_New(f) : NULL;
	Py_XDECREF(f);
	if (!m || PyDict_SetItemString(dict, "__str__", m) < 0)
		goto fail;
	Py_DECREF(m);
	f = PyCFunction_New(&named_reduce_def, NULL);
	m = f ? PyInstanceMethod_New(f) : NULL;
	Py_XDECREF(f);
	if (!m || PyDict_SetItemString(dict, "__reduce__", m) < 0)
		goto fail;
	Py_DECREF(m);
	sub = PyObject_CallFunction((PyObject *)&PyType_Type, "s(O)O", name, base, dict);
	Py_DECREF(dict);
	if (!sub)
		return NULL;
	named_types[i].base = base;
	named_types[i].sub = sub;
	return sub;
fail:
	Py_XDECREF(m);
	Py_DECREF(dict);
	return NULL;
}

/* Whether words names the segment as the daemon does: 'name'. */
static bool names_segment(const char *words, PyObject *filename)
{
	const char *s;
	Py_ssize_t n;
	const char *p;

	if (!filename || !PyUnicode_Check(filename) || !(s = PyUnicode_AsUTF8AndSize(filename, &n))) {
		PyErr_Clear();
		return false;
	}
	for (p = strchr(words, '\''); p; p = strchr(p + 1, '\''))
		if (strncmp(p + 1, s, (size_t)n) == 0 && p[1 + n] == '\'')
			return true;
	return false;
}

PyObject *pyshmbuf_raise(int err, const char *detail, PyObject *filename)
{
	PyObject *type = error_type(err), *msg, *exc;
	char words[1024];

	/* detail is libshmbuf's per-thread buffer: copy it before anything (a finalizer run by
	 * an allocation could release a view on this thread) can overwrite it. */
	snprintf(words, sizeof(words), "%s", detail ? detail : "");
	if (*words)
		msg = PyUnicode_FromFormat("%s: %s", shmbuf_strerror(err), words);
	else
		msg = PyUnicode_FromString(shmbuf_strerror(err));
	if (!msg)
		return NULL;
	if (type == PyExc_ValueError || type == PyExc_MemoryError) {
		/* Not OSErrors: the message alone (the daemon's detail names the segment). */
		PyErr_SetObject(type, msg);
		Py_DECREF(msg);
		return NULL;
	}
	if (filename && names_segment(words, filename) && !(type = named_type(type))) {
		Py_DECREF(msg);
		return NULL;
	}
	if (filename)
		exc = PyObject_CallFunction(type, "iOO", -err, msg, filename);
	else
		exc = PyObject_CallFunction(type, "iO", -err, msg);
	Py_DECREF(msg);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

PyObject *pyshmbuf_raise_forked(const char *message)
{
	PyObject *exc = PyObject_CallFunction(PyExc_ConnectionResetError, "is", ECONNRESET, message);

	if (exc) {
		PyErr_SetObject(PyExc_ConnectionResetError, exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* ---- argument converters ---- */

int pyshmbuf_u64_converter(PyObject *o, void *out)
{
	PyObject *i = PyNumber_Index(o);
	unsigned long long v;

	if (!i)
		return 0;
	v = PyLong_AsUnsignedLongLong(i);
	Py_DECREF(i);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "%R is not an integer in [0, 2**64)", o);
		}
		return 0;
	}
	*(uint64_t *)out = v;
	return 1;
}

int pyshmbuf_timeout_converter(PyObject *o, void *out)
{
	double s, ms;

	if (o == Py_None) {
		*(int *)out = -1;
		return 1;
	}
	s = PyFloat_AsDouble(o);
	if (s == -1.0 && PyErr_Occurred())
		return 0;
	if (isnan(s) || s < 0) {
		PyErr_Format(PyExc_ValueError, "timeout must be None or seconds >= 0, not %R", o);
		return 0;
	}
	/* Rounded up: a positive timeout never becomes 0, which means "do not wait". */
	ms = ceil(s * 1000.0);
	if (ms > (double)INT_MAX) {
		PyErr_Format(PyExc_ValueError, "timeout %R too large (at most %d seconds; None waits forever)", o,
			     INT_MAX / 1000);
		return 0;
	}
	*(int *)out = (int)ms;
	return 1;
}

/* ---- info records ---- */

PyTypeObject StatInfoType, SegmentInfoType, LeaseInfoType, ClientInfoType, ServerStatusType;

static PyStructSequence_Field stat_fields[] = {
	{ "size", "bytes" },
	{ "mode", "permission bits given at create" },
	{ "uid", "creator's uid" },
	{ "gid", "creator's gid" },
	{ "read_leases", "read leases held now" },
	{ "write_leases", "write leases held now" },
	{ "waiters", "acquire requests waiting" },
	{ "generation", "write leases ended on the segment so far" },
	{ NULL, NULL },
};
static PyStructSequence_Desc stat_desc = { "shmbuf.StatInfo",
					   "A segment's size, mode, owner, lease counts and write generation.",
					   stat_fields, 8 };

static PyStructSequence_Field segment_fields[] = {
	{ "name", NULL },
	{ "id", "increases with creation" },
	{ "size", "bytes" },
	{ "created_ns", "CLOCK_REALTIME, ns since the epoch" },
	{ "mode", NULL },
	{ "uid", NULL },
	{ "gid", NULL },
	{ "pid", "creator" },
	{ "read_leases", NULL },
	{ "write_leases", NULL },
	{ "waiters", NULL },
	{ "destroyed", "name removed, memory kept alive by leases" },
	{ "flags", "SHMBUF_SEGMENT_* bits as in shmbuf.h" },
	{ "generation", "write leases ended on it so far" },
	{ NULL, NULL },
};
static PyStructSequence_Desc segment_desc = { "shmbuf.SegmentInfo", "One segment, from Client.list_segments().",
					      segment_fields, 14 };

static PyStructSequence_Field lease_fields[] = {
	{ "lease_id", NULL },
	{ "client_id", NULL },
	{ "segment", "the segment's name" },
	{ "offset", NULL },
	{ "length", NULL },
	{ "write", "a write lease (else a read lease)" },
	{ "waiting", "requested, not granted yet" },
	{ "segment_destroyed", "its segment's name is removed" },
	{ "age_ns", "since granted (or requested, while waiting)" },
	{ "pid", "holder's pid at connect time" },
	{ "uid", "holder's uid at connect time" },
	{ "comm", "holder's process name" },
	{ "flags", "SHMBUF_LEASE_* bits as in shmbuf.h" },
	{ NULL, NULL },
};
static PyStructSequence_Desc lease_desc = { "shmbuf.LeaseInfo", "One lease or waiter, from Client.list_leases().",
					    lease_fields, 13 };

static PyStructSequence_Field client_fields[] = {
	{ "client_id", NULL },
	{ "pid", NULL },
	{ "uid", NULL },
	{ "gid", NULL },
	{ "comm", "process name" },
	{ "leases", "held" },
	{ "waiting", "acquires waiting" },
	{ "age_ns", "since connected" },
	{ "is_self", "this connection" },
	{ "subscribed", "receives events" },
	{ "flags", "SHMBUF_CLIENT_* bits as in shmbuf.h" },
	{ NULL, NULL },
};
static PyStructSequence_Desc client_desc = { "shmbuf.ClientInfo",
					     "One connected client, from Client.list_clients().", client_fields, 11 };

static PyStructSequence_Field status_fields[] = {
	{ "version", "shmbufd's version" },
	{ "socket_path", "where it listens" },
	{ "pid", NULL },
	{ "started_ns", "CLOCK_REALTIME, ns since the epoch" },
	{ "uptime_ns", NULL },
	{ "bytes", "segment bytes in use (destroyed-but-leased included)" },
	{ "max_bytes", NULL },
	{ "segments", NULL },
	{ "max_segments", NULL },
	{ "clients", NULL },
	{ "max_clients", NULL },
	{ "read_leases", NULL },
	{ "write_leases", NULL },
	{ "waiters", NULL },
	{ NULL, NULL },
};
static PyStructSequence_Desc status_desc = { "shmbuf.ServerStatus", "Daemon-wide figures, from Client.status().",
					     status_fields, 14 };

int pyshmbuf_init_info_types(void)
{
	if (PyStructSequence_InitType2(&StatInfoType, &stat_desc) < 0 ||
	    PyStructSequence_InitType2(&SegmentInfoType, &segment_desc) < 0 ||
	    PyStructSequence_InitType2(&LeaseInfoType, &lease_desc) < 0 ||
	    PyStructSequence_InitType2(&ClientInfoType, &client_desc) < 0 ||
	    PyStructSequence_InitType2(&ServerStatusType, &status_desc) < 0)
		return -1;
	return 0;
}

/* ---- module ---- */

static PyObject *module_version(PyObject *mod, PyObject *unused)
{
	return PyUnicode_FromString(shmbuf_version());
}

static PyObject *module_default_socket_path(PyObject *mod, PyObject *unused)
{
	char buf[4096];
	int r = shmbuf_default_socket_path(buf, sizeof(buf));

	if (r < 0)
		return pyshmbuf_raise(r, NULL, NULL);
	return PyUnicode_DecodeFSDefault(buf);
}

static PyObject *module_strerror(PyObject *mod, PyObject *arg)
{
	long err = PyLong_AsLong(arg);

	if (err == -1 && PyErr_Occurred())
		return NULL;
	if (err < -INT_MAX || err > INT_MAX)
		return PyUnicode_FromString("unknown error");
	return PyUnicode_FromString(shmbuf_strerror(err > 0 ? (int)-err : (int)err));
}

static PyMethodDef module_methods[] = {
	{ "version", module_version, METH_NOARGS,
	  "version($module, /)\n--\n\nThe version of the libshmbuf this module runs with, e.g. '0.2.0'." },
	{ "default_socket_path", module_default_socket_path, METH_NOARGS,
	  "default_socket_path($module, /)\n--\n\nThe socket Client() tries first: $SHMBUF_SOCKET when set, else\n"
	  "the per-user or root default." },
	{ "strerror", module_strerror, METH_O,
	  "strerror($module, errno, /)\n--\n\nlibshmbuf's words for an errno (either sign)." },
	{ NULL, NULL, 0, NULL },
};

PyDoc_STRVAR(module_doc,
	     "Zero-copy shared-memory buffers between processes, with leases (shmbufd's client).\n"
	     "\n"
	     "    with shmbuf.Client() as c:\n"
	     "        c.create('cam0/frames', 64 << 20)\n"
	     "        with c.acquire('cam0/frames', 0, 4096, write=True) as v:\n"
	     "            memoryview(v)[:5] = b'hello'\n"
	     "\n"
	     "Client connects to shmbufd; Client.acquire() leases and maps a byte range and returns\n"
	     "a View, an object with the buffer protocol (memoryview(v), numpy.frombuffer(v) share\n"
	     "the mapping, no copy). Errors are OSError subclasses (FileNotFoundError,\n"
	     "FileExistsError, PermissionError, BlockingIOError, TimeoutError, ConnectionError)\n"
	     "or ValueError for bad arguments, with the daemon's detail in the message and the\n"
	     "segment's name (or the socket's path) in .filename. When the daemon's words name the\n"
	     "segment already, the exception is a subclass of the built-in one (shown as\n"
	     "shmbuf.FileNotFoundError, ...) whose str() does not repeat .filename.\n"
	     "\n"
	     "A consumer of frames waits for each new write with Client.acquire_newer():\n"
	     "\n"
	     "    last = 0\n"
	     "    while True:\n"
	     "        with c.acquire_newer('cam0/frames', after=last) as v:\n"
	     "            last = v.generation\n"
	     "            process(memoryview(v))");

static struct PyModuleDef shmbuf_module = {
	PyModuleDef_HEAD_INIT, "shmbuf", module_doc, -1, module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_shmbuf(void);

PyMODINIT_FUNC PyInit_shmbuf(void)
{
	PyObject *m;

	if (PyType_Ready(&ClientType) < 0 || PyType_Ready(&ViewType) < 0 || pyshmbuf_init_info_types() < 0)
		return NULL;
	m = PyModule_Create(&shmbuf_module);
	if (!m)
		return NULL;
	if (PyModule_AddObjectRef(m, "Client", (PyObject *)&ClientType) < 0 ||
	    PyModule_AddObjectRef(m, "View", (PyObject *)&ViewType) < 0 ||
	    PyModule_AddObjectRef(m, "StatInfo", (PyObject *)&StatInfoType) < 0 ||
	    PyModule_AddObjectRef(m, "SegmentInfo", (PyObject *)&SegmentInfoType) < 0 ||
	    PyModule_AddObjectRef(m, "LeaseInfo", (PyObject *)&LeaseInfoType) < 0 ||
	    PyModule_AddObjectRef(m, "ClientInfo", (PyObject *)&ClientInfoType) < 0 ||
	    PyModule_AddObjectRef(m, "ServerStatus", (PyObject *)&ServerStatusType) < 0 ||
	    PyModule_AddStringConstant(m, "__version__", SHMBUF_VERSION_STRING) < 0 ||
	    PyModule_AddStringConstant(m, "SYSTEM_SOCKET", SHMBUF_SYSTEM_SOCKET) < 0 ||
	    PyModule_AddIntConstant(m, "NAME_MAX", SHMBUF_NAME_MAX) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
