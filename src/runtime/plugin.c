/* Finding and loading a backend plugin (libmini_infer_cuda.so), and the
 * table of core functions it is handed (plugin.h).
 *
 * Where it is looked for, first found first tried:
 *   $MI_CUDA_BACKEND, when set: that file and nothing else;
 *   beside the object that holds this code (libmini_infer.so, or the
 *   program when it linked the static archive), and in its cuda/ folder
 *   (the build tree keeps the plugin in build/cuda/);
 *   beside the program, in its cuda/ and ../cuda/ folders (the build
 *   tree's tests), and in ../<libdir>/ (an installed bin/ next to lib/);
 *   the libdir this library was configured to install into;
 *   the dynamic loader's own search (the caller's RUNPATH, which
 *   find_package and pkg-config give a program, LD_LIBRARY_PATH, the
 *   system's).
 * Every place tried and why it failed goes into the error message. The
 * handle is never closed: CUDA libraries do not unload cleanly. */
#include "runtime/plugin.h"
#include "graph/graph_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the table ----------------------------------------------------------------- */

static const mi__plugin_host host_table = {
    .abi = MI__PLUGIN_ABI,
    .size = sizeof(mi__plugin_host),
    .verror = mi__verror,
    .verror_prefix = mi__verror_prefix,
    .last_error = mi_last_error,
    .clear_error = mi_clear_error,
    .vlogf = mi__vlogf,
    .malloc = mi__malloc,
    .calloc = mi__calloc,
    .realloc = mi__realloc,
    .free = mi__free,
    .grow = mi__grow,
    .graph_name = mi_graph_name,
    .graph_node_count = mi_graph_node_count,
    .graph_node = mi_graph_node,
    .graph_tensor_count = mi_graph_tensor_count,
    .graph_tensor = mi_graph_tensor,
    .graph_value = mi__graph_value,
    .node_attr_int = mi_node_attr_int,
    .node_attr = mi_node_attr,
    .tensor_numel = mi_tensor_numel,
    .tensor_storage_dims = mi_tensor_storage_dims,
    .tensor_storage_axis = mi_tensor_storage_axis,
    .tensor_layout_neutral = mi_tensor_layout_neutral,
    .dtype_size = mi_dtype_size,
    .dtype_name = mi_dtype_name,
    .op_name = mi_op_name,
    .op_params_get = mi__op_params_get,
    .node_check_overlap = mi__node_check_overlap,
    .window_out = mi__window_out,
};

const mi__plugin_host *mi__plugin_host_table(void) { return &host_table; }

/* ---- where to look ------------------------------------------------------------- */

#define MI__PATH_MAX 4096

typedef struct finder {
    const char *library;      /* file name, e.g. libmini_infer_cuda.so */
    char tried[2048];         /* "path: why; path: why" for the message */
    size_t ntried;
} finder;

static void note(finder *f, const char *path, const char *why) {
    size_t n = strlen(f->tried);
    if (n + 8 >= sizeof f->tried) return;
    /* Cut short when the list is long, on purpose (testing the result
     * tells GCC so). */
    if (snprintf(f->tried + n, sizeof f->tried - n, "%s%s: %s", f->ntried ? "; " : "", path, why) < 0)
        f->tried[n] = '\0';
    f->ntried++;
}

/* The folder of the object (shared library or program) holding addr,
 * with a trailing slash. */
typedef struct object_query {
    uintptr_t addr;
    char name[MI__PATH_MAX];
    int found;
} object_query;

static int find_object(struct dl_phdr_info *info, size_t size, void *data) {
    object_query *q = data;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (q->addr >= lo && q->addr < lo + ph->p_memsz) {
            snprintf(q->name, sizeof q->name, "%s", info->dlpi_name ? info->dlpi_name : "");
            q->found = 1;
            return 1;
        }
    }
    return 0;
}

static int dir_of(const char *path, char *dir, size_t len) {
    const char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) + 2 > len) return 0;
    memcpy(dir, path, (size_t)(slash - path) + 1);
    dir[slash - path + 1] = '\0';
    return 1;
}

static int program_dir(char *dir, size_t len) {
    char exe[MI__PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    return dir_of(exe, dir, len);
}

/* The folder of the object this code is linked into: libmini_infer.so's,
 * or the program's (whose name the loader lists as ""). */
static int core_dir(char *dir, size_t len) {
    object_query q = {.addr = (uintptr_t)(void *)&host_table};
    dl_iterate_phdr(find_object, &q);
    if (!q.found || !q.name[0]) return program_dir(dir, len);
    char real[PATH_MAX];
    return dir_of(realpath(q.name, real) ? real : q.name, dir, len);
}

/* ---- loading ------------------------------------------------------------------- */

/* The entry point and the ABI check on an open handle: h, or NULL with
 * why noted. */
static void *checked(finder *f, void *h, const char *path) {
    const uint32_t *abi = dlsym(h, MI__PLUGIN_ABI_SYMBOL);
    if (!abi || !dlsym(h, MI__PLUGIN_CREATE_SYMBOL)) {
        note(f, path, "not a mini-infer backend plugin (it exports no " MI__PLUGIN_CREATE_SYMBOL ")");
        return NULL;
    }
    if (*abi != MI__PLUGIN_ABI) {
        char why[160];
        snprintf(why, sizeof why, "built for plugin ABI %u, this library speaks %u (rebuild them together)",
                 (unsigned)*abi, (unsigned)MI__PLUGIN_ABI);
        note(f, path, why);
        return NULL;
    }
    return h;
}

static void *open_one(finder *f, const char *path, int must_exist) {
    if (must_exist && access(path, F_OK) != 0) {
        if (errno != ENOENT) note(f, path, strerror(errno));
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        size_t n = strlen(path);
        /* dlerror() starts with the path already noted: not twice. */
        if (e && strncmp(e, path, n) == 0 && e[n] == ':') e += n + 1 + (e[n + 1] == ' ');
        note(f, path, e ? e : "dlopen failed");
        return NULL;
    }
    return checked(f, h, path);
}

static void *try_in(finder *f, const char *dir, const char *sub) {
    char path[MI__PATH_MAX + 256];
    if (snprintf(path, sizeof path, "%s%s%s", dir, sub, f->library) >= (int)sizeof path) return NULL;
    return open_one(f, path, 1);
}

static void *search(finder *f) {
    const char *env = getenv("MI_CUDA_BACKEND");
    if (env && *env) {
        if (access(env, F_OK) != 0) {
            note(f, env, "no such file (named by MI_CUDA_BACKEND)");
            return NULL;
        }
        return open_one(f, env, 0);
    }
    char dir[MI__PATH_MAX];
    void *h = NULL;
    if (core_dir(dir, sizeof dir) && ((h = try_in(f, dir, "")) || (h = try_in(f, dir, "cuda/")))) return h;
    if (program_dir(dir, sizeof dir) &&
        ((h = try_in(f, dir, "")) || (h = try_in(f, dir, "cuda/")) || (h = try_in(f, dir, "../cuda/")) ||
         (h = try_in(f, dir, "../" MI_INSTALL_LIBDIR_REL "/"))))
        return h;
    if ((h = try_in(f, MI_INSTALL_LIBDIR "/", ""))) return h;
    /* The loader's own search: no access() first, it knows where to look. */
    void *bare = dlopen(f->library, RTLD_NOW | RTLD_LOCAL);
    if (bare) return checked(f, bare, f->library);
    const char *e = dlerror();
    /* "cannot open shared object file" is only "not there": said once below. */
    if (e && !strstr(e, "cannot open shared object file")) note(f, f->library, e);
    return NULL;
}

mi_status mi__plugin_open(const char *device, const char *library, int device_index,
                          const mi_backend_options *opt, mi_backend **out) {
    finder f = {.library = library};
    void *h = search(&f);
    if (!h) {
        if (!f.ntried)
            return mi__error(MI_ERR_BACKEND,
                             "device '%s': the backend library %s was not found (looked beside this library and "
                             "the program, in their cuda/ folders, in %s and on the loader's path); build "
                             "mini-infer with the CUDA toolkit (MI_CUDA=ON), or set MI_CUDA_BACKEND to its path",
                             device, library, MI_INSTALL_LIBDIR);
        return mi__error(MI_ERR_BACKEND, "device '%s': the backend library %s could not be loaded: %s", device,
                         library, f.tried);
    }
    mi__plugin_create_fn create;
    *(void **)&create = dlsym(h, MI__PLUGIN_CREATE_SYMBOL);
    return create(&host_table, device_index, opt, out);
}
