/* mini-infer: the command-line entry point. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_cmd *const commands[] = {
    &cli_cmd_plan,
    &cli_cmd_run,
    &cli_cmd_solve,
};

static void usage(FILE *f) {
    fprintf(f, "usage: mini-infer COMMAND [options]\n\n"
               "mini-infer %s: a static memory planner and executor for neural-network inference.\n\n"
               "commands:\n", mi_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-8s %s\n  %-8s %s\n\n'mini-infer COMMAND --help' describes each command.\n",
            "help", "show this help, or a command's: mini-infer help COMMAND", "version",
            "print the version");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(argv[2], commands[i]->name) == 0) {
                    cli_print_help(commands[i], stdout);
                    return 0;
                }
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("mini-infer %s\n", mi_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i]->name) == 0)
            return commands[i]->run(commands[i], argc - 2, argv + 2);
    fprintf(stderr, "mini-infer: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
