/* The command line: a small declarative option parser shared by the
 * subcommands, so that every command's --help is generated from the same
 * table it parses with. The CLI is the only code that may exit(). */
#ifndef MI_CLI_H
#define MI_CLI_H

#include "mini_infer/common.h"

#include <stddef.h>
#include <stdio.h>

typedef struct cli_opt {
    const char *name; /* "--strategy" */
    const char *arg;  /* "NAME", or NULL for a flag */
    const char *help;
} cli_opt;

typedef struct cli_cmd {
    const char *name;
    const char *usage;   /* "solve FILE.csv [options]" */
    const char *summary; /* one line */
    const char *details; /* paragraphs after the options, may be NULL */
    const cli_opt *opts;
    size_t nopts;
    int npositional; /* required positional arguments */
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
    int max_positional; /* more allowed, up to this (0: npositional exactly) */
} cli_cmd;

/* Parsed options: values[i] is the argument of opts[i] ("1" for a flag that
 * was given), NULL when absent. Returns 0, or exits 2 after a message. */
typedef struct cli_args {
    const char *values[32];
    const char *positional[8];
    int npositional;
} cli_args;

void cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_args *out);
const char *cli_get(const cli_cmd *cmd, const cli_args *a, const char *name);
void cli_print_help(const cli_cmd *cmd, FILE *f);

/* Exits 2 with "mini-infer CMD: message" on stderr. */
void cli_fail(const cli_cmd *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;
/* Exits with a library error: the status text and mi_last_error(). */
void cli_fail_status(const cli_cmd *cmd, mi_status st)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

/* Numbers: a size with an optional K, M, G suffix (binary) or KiB/MiB/GiB. */
size_t cli_size(const cli_cmd *cmd, const char *opt, const char *s);
long long cli_int(const cli_cmd *cmd, const char *opt, const char *s, long long lo, long long hi);
double cli_double(const cli_cmd *cmd, const char *opt, const char *s, double lo, double hi);

/* "9.19 MiB"-style text of a byte count. */
const char *cli_bytes(size_t n, char *buf, size_t len);
/* Monotonic seconds, for the timings the commands print. */
double cli_now(void);
/* A mi_log_fn that writes each message, indented, to stderr (--verbose). */
void cli_log_stderr(void *user, const char *msg);

extern const cli_cmd cli_cmd_solve;
extern const cli_cmd cli_cmd_plan;
extern const cli_cmd cli_cmd_run;

#endif
