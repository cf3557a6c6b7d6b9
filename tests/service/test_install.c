/* SPDX-License-Identifier: MIT */
/* test_install.c: `cmake --install` into a temporary prefix: every file in its place, units that
 * systemd accepts, the sysusers.d entry, the manual page, and programs built outside the tree. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service_harness.h"

TestSuite(install, .init = svc_setup, .fini = svc_teardown, .timeout = 60);

/* A path under this test's install prefix. */
#define installed(rel) in_dir("prefix/%s", rel)

/* `cmake --install` the build tree into this test's prefix. Installs from tests running at once
 * are serialised: they share the build tree's install_manifest.txt. */
static void install_tree(void)
{
#ifdef SHMBUF_INSTALL_ABSOLUTE
	svc_skip("an install directory is absolute (%s): installing would write outside the "
		     "test's prefix", SHMBUF_INSTALL_ABSOLUTE);
#endif
	int lock = open(SHMBUF_BINARY_DIR "/tests/.install.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	cr_assert_geq(lock, 0);
	cr_assert_eq(flock(lock, LOCK_EX), 0);
	expect_sh(in_dir("install.log"), "'%s' --install '%s' --prefix '%s'", SHMBUF_CMAKE_COMMAND,
		  SHMBUF_BINARY_DIR, in_dir("prefix"));
	close(lock);
}

Test(install, puts_every_file_in_its_place)
{
	static const char *const files[] = {
		SHMBUF_INSTALL_BINDIR "/shmbufd",
		SHMBUF_INSTALL_LIBDIR "/libshmbuf.so",
		SHMBUF_INSTALL_LIBDIR "/libshmbuf.so.1",
		SHMBUF_INSTALL_LIBDIR "/libshmbuf.so." SHMBUF_VERSION,
		SHMBUF_INSTALL_LIBDIR "/libshmbuf.a",
		SHMBUF_INSTALL_INCLUDEDIR "/shmbuf.h",
		SHMBUF_INSTALL_LIBDIR "/pkgconfig/shmbuf.pc",
		SHMBUF_INSTALL_LIBDIR "/cmake/shmbuf/shmbufConfig.cmake",
		SHMBUF_INSTALL_LIBDIR "/cmake/shmbuf/shmbufConfigVersion.cmake",
		SHMBUF_INSTALL_LIBDIR "/cmake/shmbuf/shmbufTargets.cmake",
		SHMBUF_INSTALL_UNITDIR "/shmbufd.service",
		SHMBUF_INSTALL_UNITDIR "/shmbufd.socket",
		SHMBUF_INSTALL_SYSUSERSDIR "/shmbuf.conf",
		SHMBUF_INSTALL_SYSCONFDIR "/shmbuf/shmbufd.conf",
		SHMBUF_INSTALL_MANDIR "/man8/shmbufd.8",
	};
	char want[PATH_MAX + 64];
	const char *conf = installed(SHMBUF_INSTALL_SYSCONFDIR "/shmbuf/shmbufd.conf");
	FILE *f;

	install_tree();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		cr_expect_eq(access(installed(files[i]), R_OK), 0, "not installed: %s", files[i]);
	cr_assert_eq(access(installed(SHMBUF_INSTALL_BINDIR "/shmbufd"), X_OK), 0);
	if (access(SHMBUFCTL_PATH, X_OK) == 0) {
		cr_expect_eq(access(installed(SHMBUF_INSTALL_BINDIR "/shmbufctl"), X_OK), 0,
			     "shmbufctl is built but not installed");
		cr_expect_eq(access(installed(SHMBUF_INSTALL_MANDIR "/man1/shmbufctl.1"), R_OK), 0,
			     "shmbufctl is built but its manual page is not installed");
		/* No RUNPATH (Debian policy): from a prefix outside the linker's path it runs with
		 * LD_LIBRARY_PATH, as the README says. */
		expect_sh(in_dir("ctl-version.log"), "LD_LIBRARY_PATH='%s' '%s' --version",
			  installed(SHMBUF_INSTALL_LIBDIR), installed(SHMBUF_INSTALL_BINDIR "/shmbufctl"));
		expect_sh(in_dir("ctl-rpath.log"), "! readelf -d '%s' | grep -E 'RPATH|RUNPATH'",
			  installed(SHMBUF_INSTALL_BINDIR "/shmbufctl"));
	}
	expect_sh(in_dir("shmbufd-rpath.log"), "! readelf -d '%s' | grep -E 'RPATH|RUNPATH'",
		  installed(SHMBUF_INSTALL_BINDIR "/shmbufd"));
	cr_expect_eq(access(installed(SHMBUF_INSTALL_INCLUDEDIR "/shmbuf_version.h"), R_OK), 0,
		     "shmbuf.h includes shmbuf_version.h: it must be installed beside it");

	/* Configured for the prefix given to `cmake --install`, not the one given to cmake. */
	snprintf(want, sizeof(want), "\nExecStart=%s\n", installed(SHMBUF_INSTALL_BINDIR "/shmbufd"));
	cr_expect(file_contains(installed(SHMBUF_INSTALL_UNITDIR "/shmbufd.service"), want), "missing %s", want);
	snprintf(want, sizeof(want), "\nEnvironmentFile=-%s\n", conf);
	cr_expect(file_contains(installed(SHMBUF_INSTALL_UNITDIR "/shmbufd.service"), want), "missing %s", want);
	snprintf(want, sizeof(want), "prefix=%s\n", in_dir("prefix"));
	cr_expect(file_contains(installed(SHMBUF_INSTALL_LIBDIR "/pkgconfig/shmbuf.pc"), want), "missing %s", want);

	/* A second install keeps the administrator's configuration. */
	f = fopen(conf, "ae");
	cr_assert(f);
	fputs("SHMBUFD_LOG_LEVEL=info\n", f);
	fclose(f);
	install_tree();
	cr_assert(file_contains(conf, "\nSHMBUFD_LOG_LEVEL=info\n"), "reinstalling overwrote shmbufd.conf");
}

Test(install, units_pass_systemd_analyze_verify)
{
	const char *units = installed(SHMBUF_INSTALL_UNITDIR), *log = in_dir("verify.log");
	/* With man(1) present, verify also checks that Documentation=man:shmbufd(8) resolves. */
	const char *man = have_program("man") ? "--man=yes" : "--man=no";
	char *out;

	if (!have_program("systemd-analyze"))
		svc_skip("systemd-analyze is not installed (Debian package systemd)");
	install_tree();
	expect_sh(log, "MANPATH='%s' systemd-analyze verify %s '%s/shmbufd.socket' '%s/shmbufd.service'",
		  installed(SHMBUF_INSTALL_MANDIR), man, units, units);
	/* verify exits 0 over unknown keys and bad values (it only warns): no output is the bar. */
	out = output_of(log);
	cr_assert_str_empty(out, "systemd-analyze verify %s:\n%s", man, out);
	free(out);

	/* The same check on a copy with a misspelt option: it must be caught. */
	log = in_dir("verify-broken.log");
	expect_sh(log, "mkdir '%s' && cp '%s/shmbufd.socket' '%s/shmbufd.service' '%s' && "
		       "echo NoNewPrivilege=yes >> '%s/shmbufd.service' && "
		       "systemd-analyze verify --man=no '%s/shmbufd.socket' '%s/shmbufd.service'",
		  in_dir("broken"), units, units, in_dir("broken"), in_dir("broken"), in_dir("broken"),
		  in_dir("broken"));
	out = output_of(log);
	cr_assert(strstr(out, "NoNewPrivilege"), "verify did not notice a misspelt option:\n%s", out);
	free(out);
}

/* The lines the design depends on, and those it forbids (docs/deploying.md says why). */
Test(install, the_service_keeps_its_hardening)
{
	static const char *const required[] = { "\nType=notify\n", "\nUser=shmbuf\n", "\nGroup=shmbuf\n",
						"\nRequires=shmbufd.socket\n", "\nWatchdogSec=", "\nRemoveIPC=no\n",
						"\nNoNewPrivileges=yes\n", "\nCapabilityBoundingSet=\n",
						"\nProtectSystem=strict\n", "\nRestrictAddressFamilies=AF_UNIX\n" };
	/* They would delete the daemon's shm objects behind its back, or cut it off from the
	 * host's /dev/shm or from its clients' uids. */
	static const char *const forbidden[] = { "\nDynamicUser=yes", "\nRemoveIPC=yes", "\nPrivateDevices=yes",
						 "\nPrivateUsers=yes" };
	const char *service = installed(SHMBUF_INSTALL_UNITDIR "/shmbufd.service");

	install_tree();
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		cr_expect(file_contains(service, required[i]), "shmbufd.service lacks %s", required[i] + 1);
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		cr_expect(!file_contains(service, forbidden[i]), "shmbufd.service has %s", forbidden[i] + 1);

	if (!have_program("systemd-analyze"))
		svc_skip("systemd-analyze is not installed (Debian package systemd)");
	/* --threshold counts tenths: 12 is an exposure of 1.2; systemd 252 rates the unit 0.9. */
	expect_sh(in_dir("security.log"), "systemd-analyze security --offline=yes --threshold=12 '%s'", service);
	/* The same bar fails an unhardened service, so the check has teeth. */
	write_file(in_dir("bare.service"), "[Service]\nExecStart=/bin/true\n");
	cr_assert_neq(sh(in_dir("bare.log"), "systemd-analyze security --offline=yes --threshold=12 '%s'",
			 in_dir("bare.service")), 0);
}

Test(install, sysusers_creates_the_user_and_its_group)
{
	char *passwd, *group;

	if (!have_program("systemd-sysusers"))
		svc_skip("systemd-sysusers is not installed (Debian package systemd)");
	install_tree();
	cr_assert_eq(mkdir(in_dir("root"), 0755), 0);
	cr_assert_eq(mkdir(in_dir("root/etc"), 0755), 0);
	expect_sh(in_dir("sysusers.log"), "systemd-sysusers --root='%s' '%s'", in_dir("root"),
		  installed(SHMBUF_INSTALL_SYSUSERSDIR "/shmbuf.conf"));
	passwd = read_file(in_dir("root/etc/passwd"));
	group = read_file(in_dir("root/etc/group"));
	cr_assert(passwd && group);
	cr_assert(strncmp(passwd, "shmbuf:x:", 9) == 0 && strstr(passwd, ":/usr/sbin/nologin\n"), "%s", passwd);
	cr_assert(strncmp(group, "shmbuf:x:", 9) == 0, "%s", group);
	free(passwd);
	free(group);
}

Test(install, the_manual_page_renders_without_warnings)
{
	char *out;

	if (!have_program("groff"))
		svc_skip("groff is not installed");
	install_tree();
	expect_sh(in_dir("groff.log"), "groff -man -Tutf8 -ww -z '%s'", installed(SHMBUF_INSTALL_MANDIR "/man8/shmbufd.8"));
	out = output_of(in_dir("groff.log"));
	cr_assert_str_empty(out, "%s", out);
	free(out);
}

/* A program of the library's users: two connections, bytes written through one lease are read
 * through another. Strict flags: the public header must compile cleanly in their builds too. */
static const char consumer_c[] =
	"/* consumer.c: built outside the shmbuf tree against the installed library. */\n"
	"#include <shmbuf.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"\n"
	"static int fail(const char *what, int err)\n"
	"{\n"
	"	fprintf(stderr, \"%s: %s\\n\", what, shmbuf_strerror(err));\n"
	"	return 1;\n"
	"}\n"
	"\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	static const char msg[] = \"bytes from outside the tree\";\n"
	"	shmbuf_client *w, *r;\n"
	"	shmbuf_view wv, rv;\n"
	"	int e;\n"
	"\n"
	"	if (argc != 3)\n"
	"		return 2;\n"
	"	if ((e = shmbuf_connect(argv[1], &w)) < 0 || (e = shmbuf_connect(argv[1], &r)) < 0)\n"
	"		return fail(\"connect\", e);\n"
	"	if ((e = shmbuf_create(w, argv[2], 4096, 0600)) < 0)\n"
	"		return fail(\"create\", e);\n"
	"	if ((e = shmbuf_acquire(w, argv[2], 0, sizeof(msg), SHMBUF_WRITE, 10000, &wv, sizeof(wv))) < 0)\n"
	"		return fail(\"acquire for writing\", e);\n"
	"	memcpy(wv.data, msg, sizeof(msg));\n"
	"	if ((e = shmbuf_release(w, &wv, sizeof(wv))) < 0)\n"
	"		return fail(\"release\", e);\n"
	"	if ((e = shmbuf_acquire(r, argv[2], 0, sizeof(msg), SHMBUF_READ, 10000, &rv, sizeof(rv))) < 0)\n"
	"		return fail(\"acquire for reading\", e);\n"
	"	if (memcmp(rv.data, msg, sizeof(msg)) != 0) {\n"
	"		fprintf(stderr, \"the read lease does not see the written bytes\\n\");\n"
	"		return 1;\n"
	"	}\n"
	"	if ((e = shmbuf_release(r, &rv, sizeof(rv))) < 0 || (e = shmbuf_destroy(w, argv[2])) < 0)\n"
	"		return fail(\"release or destroy\", e);\n"
	"	shmbuf_disconnect(r);\n"
	"	shmbuf_disconnect(w);\n"
	"	printf(\"ok %s %s\\n\", shmbuf_version(), SHMBUF_VERSION_STRING);\n"
	"	return 0;\n"
	"}\n";

/* Run a consumer against the installed shmbufd; it must succeed and have loaded want_lib
 * (the installed library, or none for a static build). */
static void run_consumer(const char *exe, const char *name, const char *want_lib)
{
	const char *sock = in_dir("%s.sock", name), *log = in_dir("%s.log", name);
	char msg[512];
	char *out;
	int nfd;
	pid_t pid = start_daemon(installed(SHMBUF_INSTALL_BINDIR "/shmbufd"), sock, NULL, &nfd, msg, sizeof(msg));

	expect_sh(log, "'%s' '%s' 'consumer/%s'", exe, sock, name);
	out = output_of(log);
	cr_assert_str_eq(out, "ok " SHMBUF_VERSION " " SHMBUF_VERSION "\n");
	free(out);
	log = in_dir("%s-libs.log", name);
	expect_sh(log, "LD_TRACE_LOADED_OBJECTS=1 '%s'", exe);
	out = output_of(log);
	if (want_lib)
		cr_assert(strstr(out, want_lib), "%s does not load %s:\n%s", exe, want_lib, out);
	else
		cr_assert_null(strstr(out, "libshmbuf"), "%s should be linked statically:\n%s", exe, out);
	free(out);
	kill(pid, SIGTERM);
	expect_exit(pid, 0);
	close(nfd);
}

Test(install, a_program_builds_with_pkg_config_and_runs)
{
	const char *ext = in_dir("ext"), *libdir = installed(SHMBUF_INSTALL_LIBDIR);

	if (!have_program("pkg-config"))
		svc_skip("pkg-config is not installed");
	install_tree();
	cr_assert_eq(mkdir(ext, 0755), 0);
	write_file(in_dir("ext/consumer.c"), consumer_c);
	/* -Wl,-rpath: the program finds the installed library without LD_LIBRARY_PATH. */
	expect_sh(in_dir("pkg-config-build.log"),
		  "cd '%s' && export PKG_CONFIG_PATH='%s/pkgconfig' && "
		  "'%s' -std=c99 -Wall -Wextra -Wpedantic -Werror %s -o consumer consumer.c "
		  "$(pkg-config --cflags --libs shmbuf) -Wl,-rpath,'%s'",
		  ext, libdir, SHMBUF_C_COMPILER, SHMBUF_CONSUMER_FLAGS, libdir);
	run_consumer(in_dir("ext/consumer"), "pkg-config", in_dir("prefix/%s/libshmbuf.so.1", SHMBUF_INSTALL_LIBDIR));
}

Test(install, a_program_builds_with_find_package_and_runs)
{
	const char *ext = in_dir("ext");

	install_tree();
	cr_assert_eq(mkdir(ext, 0755), 0);
	write_file(in_dir("ext/consumer.c"), consumer_c);
	write_file(in_dir("ext/CMakeLists.txt"),
		   "cmake_minimum_required(VERSION 3.25)\n"
		   "project(consumer LANGUAGES C)\n"
		   "find_package(shmbuf " SHMBUF_VERSION " REQUIRED)\n"
		   "add_executable(consumer consumer.c)\n"
		   "target_link_libraries(consumer PRIVATE shmbuf::shmbuf)\n"
		   "add_executable(consumer_static consumer.c)\n"
		   "target_link_libraries(consumer_static PRIVATE shmbuf::shmbuf_static)\n"
		   "target_compile_options(consumer PRIVATE -Wall -Wextra -Werror)\n"
		   "target_compile_options(consumer_static PRIVATE -Wall -Wextra -Werror)\n");
	/* Configuring is the slow part of this suite: once, and nothing more than C. */
	expect_sh(in_dir("cmake-build.log"),
		  "'%s' -S '%s' -B '%s/build' -DCMAKE_PREFIX_PATH='%s' -DCMAKE_C_COMPILER='%s' "
		  "-DCMAKE_C_FLAGS='%s' && '%s' --build '%s/build' -j2",
		  SHMBUF_CMAKE_COMMAND, ext, ext, in_dir("prefix"), SHMBUF_C_COMPILER, SHMBUF_CONSUMER_FLAGS,
		  SHMBUF_CMAKE_COMMAND, ext);
	/* CMake links imported targets with an rpath into the prefix. */
	run_consumer(in_dir("ext/build/consumer"), "find-package",
		     in_dir("prefix/%s/libshmbuf.so.1", SHMBUF_INSTALL_LIBDIR));
	run_consumer(in_dir("ext/build/consumer_static"), "find-package-static", NULL);
}
