/* mini-infer plan: load a model, plan its memory, report. */
#include "cli.h"
#include "cli_model.h"
#include "mini_infer/report.h"

#include <stdlib.h>
#include <string.h>

static const cli_opt plan_opts[] = {
    {"--strategy", "NAME", "naive, greedy-size, best-fit, greedy-breadth, coloring, exact or auto (default auto)"},
    {"--alignment", "N", "alignment in bytes, a power of two from 1 to 1048576 (default 256)"},
    {"--batch", "N", "override the batch size (dim 0 of every input)"},
    {"--no-inplace", NULL, "no in-place ops, views or copy-free concat"},
    {"--no-fuse", NULL, "do not fuse Conv+Relu, Conv+Add+Relu, Conv+Clip"},
    {"--precision", "NAME", "fp32 (default: as the model declares), fp16 or bf16 for every float tensor"},
    {"--layout", "NAME", "auto (default, nchw here), nchw or nhwc: channels last between convolutions, as the CUDA backend runs fp16 and bf16"},
    {"--disable", NULL, "planner disabled: every tensor its own region (naive)"},
    {"--device", "NAME", "plan the workspaces this backend asks for: none (default) or cpu"},
    {"--time-limit", "SECONDS", "time limit of the exact search (default 2)"},
    {"--node-budget", "N", "search-node budget of the exact search"},
    {"--threads", "N", "exact search: a portfolio of N searches on N threads (default 1)"},
    {"--json", NULL, "print the plan as JSON (every tensor's pool, offset, size, steps)"},
    {"--svg", "FILE", "draw the arena as an SVG picture"},
    {"--csv", "FILE", "write the arena's planner problem as MiniMalloc CSV"},
    {"--verbose", NULL, "log each planning decision to stderr"},
};

static int run_plan(const cli_cmd *cmd, int argc, char **argv) {
    cli_args a;
    cli_parse(cmd, argc, argv, &a);
    cli_model m;
    cli_model_open(cmd, &a, a.positional[0], &m);
    const mi_memory_plan *plan = m.plan;
    const mi_graph *g = m.graph;
    const char *v;
    mi_status st;
    mi_report_info info = {a.positional[0], m.batch, m.load_seconds + m.plan_seconds};
    if ((v = cli_get(cmd, &a, "--svg"))) {
        FILE *f = fopen(v, "w");
        if (!f) cli_fail(cmd, "--svg: cannot create %s", v);
        st = mi_report_svg(g, plan, &info, f);
        if (fclose(f) != 0 && !st) cli_fail(cmd, "--svg: write error on %s", v);
        if (st) cli_fail_status(cmd, st);
    }
    if ((v = cli_get(cmd, &a, "--csv"))) {
        size_t n;
        const mi_buffer *b = mi_memory_plan_buffers(plan, &n);
        FILE *f = fopen(v, "w");
        if (!f) cli_fail(cmd, "--csv: cannot create %s", v);
        fprintf(f, "id,lower,upper,size\n");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%zu,%lld,%lld,%zu\n", i, (long long)b[i].first, (long long)b[i].last + 1, b[i].size);
        if (fclose(f) != 0) cli_fail(cmd, "--csv: write error on %s", v);
    }
    if (cli_get(cmd, &a, "--json")) {
        if ((st = mi_report_json(g, plan, &info, stdout))) cli_fail_status(cmd, st);
    } else {
        cli_model_print_table(&m, stdout);
    }
    cli_model_close(&m);
    return 0;
}

const cli_cmd cli_cmd_plan = {
    "plan",
    "plan MODEL.onnx [options]",
    "Load an ONNX model, infer shapes, analyse lifetimes and plan the memory pools.",
    "Prints the tensors, the naive arena, each strategy's arena, the lower bound (with and\n"
    "without in-place), the winner, the saving ratio and the three pool sizes.",
    plan_opts,
    sizeof plan_opts / sizeof plan_opts[0],
    1,
    run_plan,
};
