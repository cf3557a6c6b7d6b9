/* SPDX-License-Identifier: MIT */
/* harness_state.c: what a stopped shmbufd leaves for its next start: its live segments'
 * objects, named by the state records in its state directory. daemon_stop() checks that
 * nothing else is left and removes them. */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &cap, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The text of every state record in the state directory, concatenated (free it). */
static char *state_records(void)
{
	DIR *d = opendir(daemon_state_dir());
	char *all = strdup(""), path[400];
	struct dirent *e;

	while (d && all && (e = readdir(d))) {
		char *text, *more;
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 6, ".state") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", daemon_state_dir(), e->d_name);
		text = read_file(path);
		if (text && asprintf(&more, "%s%s", all, text) >= 0) {
			free(all);
			all = more;
		}
		free(text);
	}
	if (d)
		closedir(d);
	return all;
}

/* Unlink the objects with prefix; returns how many of them no state record named. */
int state_remove_recorded_objects(const char *prefix)
{
	char *records = state_records(), needle[300];
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int unnamed = 0;

	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(needle, sizeof(needle), " %s ", e->d_name);
		if (!records || !strstr(records, needle)) {
			cr_log_error("/dev/shm/%s is not in the state record", e->d_name);
			unnamed++;
		}
		snprintf(needle, sizeof(needle), "/%s", e->d_name);
		shm_unlink(needle);
	}
	if (d)
		closedir(d);
	free(records);
	return unnamed;
}

void state_remove_dir(void)
{
	DIR *d = opendir(daemon_state_dir());
	struct dirent *e;
	char path[400];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", daemon_state_dir(), e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(daemon_state_dir());
}

