/* A minimal NVTX injection library for the tests: with
 * NVTX_INJECTION64_PATH pointing at it, the first NVTX call of a process
 * loads it and calls InitializeInjectionNvtx2, which routes the core
 * range functions here. It records "push <name>" and "pop" events, which
 * the tests read back through mi_nvtx_recorder_count / _event (dlopen of
 * the same path returns this loaded copy). No GPU, no nsys needed. */
#include <nvtx3/nvToolsExt.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_EVENTS 4096
#define EVENT_LEN 160

static char events[MAX_EVENTS][EVENT_LEN];
static int nevents, depth, max_depth;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void record(const char *kind, const char *name) {
    pthread_mutex_lock(&lock);
    if (nevents < MAX_EVENTS) snprintf(events[nevents++], EVENT_LEN, "%s%s%s", kind, name ? " " : "", name ? name : "");
    pthread_mutex_unlock(&lock);
}

static int push_a(const char *message) {
    record("push", message);
    if (++depth > max_depth) max_depth = depth;
    return depth - 1;
}

static int push_ex(const nvtxEventAttributes_t *a) {
    const char *name = a && a->messageType == NVTX_MESSAGE_TYPE_ASCII ? a->message.ascii : "?";
    return push_a(name);
}

static int pop(void) {
    record("pop", NULL);
    return --depth;
}

__attribute__((visibility("default"))) int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get) {
    const NvtxExportTableCallbacks *cb = (const NvtxExportTableCallbacks *)get(NVTX_ETID_CALLBACKS);
    NvtxFunctionTable table = NULL;
    unsigned int size = 0;
    if (!cb || !cb->GetModuleFunctionTable(NVTX_CB_MODULE_CORE, &table, &size) || !table ||
        size <= NVTX_CBID_CORE_RangePop)
        return 0;
    *table[NVTX_CBID_CORE_RangePushA] = (NvtxFunctionPointer)push_a;
    *table[NVTX_CBID_CORE_RangePushEx] = (NvtxFunctionPointer)push_ex;
    *table[NVTX_CBID_CORE_RangePop] = (NvtxFunctionPointer)pop;
    return 1;
}

__attribute__((visibility("default"))) int mi_nvtx_recorder_count(void) { return nevents; }

__attribute__((visibility("default"))) const char *mi_nvtx_recorder_event(int i) {
    return i >= 0 && i < nevents ? events[i] : NULL;
}

/* The deepest nesting seen, and the depth now (0 when balanced). */
__attribute__((visibility("default"))) int mi_nvtx_recorder_depth(int *deepest) {
    if (deepest) *deepest = max_depth;
    return depth;
}
