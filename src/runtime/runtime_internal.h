/* What the runtime's files share: a request on a backend or on one of its
 * contexts' state (backend.c), for mi_backend_control and
 * mi_context_control. */
#ifndef MI_RUNTIME_INTERNAL_H
#define MI_RUNTIME_INTERNAL_H

#include "common/internal.h"
#include "mini_infer/backend.h"

/* MI_ERR_UNSUPPORTED naming the backend when it answers no requests or
 * not this one. */
mi_status mi__backend_request(mi_backend *b, void *ctx, int request, void *arg);

#endif
