/* Loading and planning a model for the plan and run commands, from the
 * options they share. */
#ifndef MI_CLI_MODEL_H
#define MI_CLI_MODEL_H

#include "cli.h"
#include "mini_infer/memplan.h"

typedef struct cli_model {
    mi_graph *graph;
    mi_memory_plan *plan;
    mi_planner *planner;
    int64_t batch;
    double load_seconds, plan_seconds;
    size_t *workspace; /* per node, from the device's backend; NULL for none */
} cli_model;

/* The planning options both commands share (--strategy, --alignment,
 * --no-inplace, --disable, --time-limit, --node-budget, --threads,
 * --verbose), each read only where the command declares it; exits on a
 * bad value. */
void cli_plan_options(const cli_cmd *cmd, const cli_args *a, mi_plan_options *o);
/* --precision fp32|fp16|bf16 into the load options. */
void cli_precision(const cli_cmd *cmd, const cli_args *a, mi_load_options *o);
/* --layout auto|nchw|nhwc into the load options' channels_last (-1, 0, 1). */
void cli_layout(const cli_cmd *cmd, const cli_args *a, mi_load_options *o);
/* --batch N, --batch MIN..MAX or --batches B1,B2,... (which exclude each
 * other): the sizes, ascending, into sizes[MI_MAX_BATCHES]; returns how
 * many (0: neither given); exits on a bad value or too many sizes. */
int cli_batches(const cli_cmd *cmd, const cli_args *a, int64_t *sizes);
/* Loads and plans path at batch (0: as exported) with the options in a
 * (--strategy, --alignment, --no-inplace, --no-fuse, --disable,
 * --time-limit, --node-budget, --verbose, --device); exits on error. */
void cli_model_open(const cli_cmd *cmd, const cli_args *a, const char *path, int64_t batch, cli_model *m);
void cli_model_close(cli_model *m);
void cli_model_print_table(const cli_model *m, FILE *f);

#endif
