/* Lifetimes and aliasing, for the graph-level planner (memplan.c) only:
 * when each tensor is live, and which tensors share memory (views,
 * in-place results, copy-free concat), decided in node order.
 *
 * Tensors that share memory are grouped with a weighted union-find: each
 * tensor knows its byte offset relative to its parent, and so, through
 * find, to its group's root. What the in-place and concat decisions ask
 * of a group (a fixed-role member? read after this step? its byte extent?
 * a concat in it?) is kept at the root and merged when two groups unite,
 * so each question costs one find, not a scan of every tensor. */
#ifndef MI_MEMPLAN_LIFETIMES_H
#define MI_MEMPLAN_LIFETIMES_H

#include "common/internal.h"
#include "mini_infer/graph.h"

/* Facts of the group rooted at a tensor; meaningful at roots only. */
typedef struct mi__group {
    int64_t last_use;  /* the latest last step of a member */
    int64_t lo, hi;    /* byte extent of the members, relative to the root */
    unsigned char fixed;      /* a member is an input, output or weight */
    unsigned char has_concat; /* a member was merged as a concat slice, or is a concat's output */
    int concat_seen;          /* the node (+1) whose concat inputs last counted this group,
                               * to catch two inputs that are the same bytes */
} mi__group;

typedef struct mi__lifetimes {
    const mi_graph *g;
    size_t nt, nn;
    int64_t *first, *last; /* per tensor; -1 when never live in the run */
    int *parent;           /* union-find */
    int64_t *delta;        /* byte offset relative to parent */
    mi__group *group;      /* per tensor, valid at roots */
    unsigned char *elided; /* per node */
} mi__lifetimes;

/* Lifetimes of g's tensors and, with inplace, the views, in-place results
 * and copy-free concats, each decision logged through log (NULL: silent).
 * On success the caller frees a with mi__lifetimes_free. */
mi_status mi__lifetimes_analyse(mi__lifetimes *a, const mi_graph *g, int inplace, mi_log_fn log,
                                void *log_user);
void mi__lifetimes_free(mi__lifetimes *a);
/* Root of t's group, with t's byte offset from the root in *off (may be NULL). */
int mi__lifetimes_find(mi__lifetimes *a, int t, int64_t *off);

#endif
