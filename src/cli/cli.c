#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_print_help(const cli_cmd *cmd, FILE *f) {
    fprintf(f, "usage: mini-infer %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->nopts) {
        fprintf(f, "\noptions:\n");
        for (size_t i = 0; i < cmd->nopts; i++) {
            char left[64];
            snprintf(left, sizeof left, "%s%s%s", cmd->opts[i].name, cmd->opts[i].arg ? " " : "",
                     cmd->opts[i].arg ? cmd->opts[i].arg : "");
            fprintf(f, "  %-26s %s\n", left, cmd->opts[i].help);
        }
        fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
    }
    if (cmd->details) fprintf(f, "\n%s\n", cmd->details);
}

void cli_fail(const cli_cmd *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "mini-infer %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see: mini-infer %s --help)\n", cmd->name);
    exit(2);
}

void cli_fail_status(const cli_cmd *cmd, mi_status st) {
    const char *detail = mi_last_error();
    fprintf(stderr, "mini-infer %s: %s%s%s\n", cmd->name, mi_status_str(st), detail[0] ? ": " : "",
            detail);
    exit(st == MI_ERR_CAPACITY ? 1 : 2);
}

static const cli_opt *find_opt(const cli_cmd *cmd, const char *name, size_t len, size_t *index) {
    for (size_t i = 0; i < cmd->nopts; i++) {
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0) {
            *index = i;
            return &cmd->opts[i];
        }
    }
    return NULL;
}

void cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_args *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_print_help(cmd, stdout);
            exit(0);
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a), k;
            const cli_opt *o = find_opt(cmd, a, len, &k);
            if (!o) {
                char names[512] = "";
                for (size_t j = 0; j < cmd->nopts; j++) {
                    strncat(names, cmd->opts[j].name, sizeof names - strlen(names) - 1);
                    if (j + 1 < cmd->nopts) strncat(names, ", ", sizeof names - strlen(names) - 1);
                }
                cli_fail(cmd, "unknown option '%.*s'; valid options: %s", (int)len, a, names);
            }
            if (o->arg) {
                if (eq) out->values[k] = eq + 1;
                else if (i + 1 < argc) out->values[k] = argv[++i];
                else cli_fail(cmd, "option %s needs a value (%s)", o->name, o->arg);
            } else {
                if (eq) cli_fail(cmd, "option %s takes no value", o->name);
                out->values[k] = "1";
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_fail(cmd, "unknown option '%s'", a);
        } else {
            if (out->npositional >= (int)(sizeof out->positional / sizeof out->positional[0]))
                cli_fail(cmd, "too many arguments");
            out->positional[out->npositional++] = a;
        }
    }
    if (out->npositional < cmd->npositional)
        cli_fail(cmd, "missing argument; usage: mini-infer %s", cmd->usage);
    int most = cmd->max_positional > cmd->npositional ? cmd->max_positional : cmd->npositional;
    if (out->npositional > most) cli_fail(cmd, "unexpected argument '%s'", out->positional[most]);
}

const char *cli_get(const cli_cmd *cmd, const cli_args *a, const char *name) {
    size_t k;
    if (!find_opt(cmd, name, strlen(name), &k)) return NULL;
    return a->values[k];
}

size_t cli_size(const cli_cmd *cmd, const char *opt, const char *s) {
    char *end;
    errno = 0;
    if (s[0] == '-') cli_fail(cmd, "%s: '%s' is negative; expected a size in bytes", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno) cli_fail(cmd, "%s: '%s' is not a size in bytes (e.g. 4096, 64K, 8MiB)", opt, s);
    unsigned long long mul = 1;
    if (*end) {
        char u = *end;
        const char *rest = end + 1;
        if (u == 'K' || u == 'k') mul = 1ULL << 10;
        else if (u == 'M' || u == 'm') mul = 1ULL << 20;
        else if (u == 'G' || u == 'g') mul = 1ULL << 30;
        else cli_fail(cmd, "%s: '%s': unknown unit; use K, M or G (binary)", opt, s);
        if (*rest && strcmp(rest, "iB") != 0 && strcmp(rest, "B") != 0)
            cli_fail(cmd, "%s: '%s': unknown unit; use K, M or G (binary)", opt, s);
    }
    if (v > SIZE_MAX / mul) cli_fail(cmd, "%s: '%s' is too large", opt, s);
    return (size_t)(v * mul);
}

long long cli_int(const cli_cmd *cmd, const char *opt, const char *s, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        cli_fail(cmd, "%s: '%s' is not an integer from %lld to %lld", opt, s, lo, hi);
    return v;
}

double cli_double(const cli_cmd *cmd, const char *opt, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
        cli_fail(cmd, "%s: '%s' is not a number from %g to %g", opt, s, lo, hi);
    return v;
}

const char *cli_bytes(size_t n, char *buf, size_t len) {
    if (n >= (size_t)1 << 30) snprintf(buf, len, "%.2f GiB", (double)n / (double)(1 << 30));
    else if (n >= (size_t)1 << 20) snprintf(buf, len, "%.2f MiB", (double)n / (double)(1 << 20));
    else if (n >= (size_t)1 << 10) snprintf(buf, len, "%.2f KiB", (double)n / 1024.0);
    else snprintf(buf, len, "%zu B", n);
    return buf;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_log_stderr(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "  %s\n", msg);
}
