/* SPDX-License-Identifier: MIT */
/* log.h: leveled logging to stderr, with syslog priority prefixes when stderr is the journal. */
#ifndef SHMBUFD_LOG_H
#define SHMBUFD_LOG_H

#include <syslog.h>

/* Levels are syslog priorities: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void log_init(int max_level);
/* Parse "error", "warning", "notice", "info" or "debug"; returns the level or -EINVAL. */
int log_level_parse(const char *s);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
