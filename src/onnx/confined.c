/* Opening a model's external data without leaving the model's folder.
 *
 * A shared model must not read files outside its folder: a location with
 * '..' or '/' is refused before this, and here the open itself cannot
 * escape through a symlink (of the file or of a folder on the way).
 * openat2(RESOLVE_BENEATH) does it in the kernel where the kernel has it
 * (Linux 5.6); elsewhere a walk opens one component at a time with
 * O_NOFOLLOW, which refuses every symlink, also one that stays inside. A
 * file with more than one hard link may be a link to a file outside, so
 * it is refused too (the ONNX library does the same). O_NONBLOCK: a FIFO
 * named as external data opens at once (and is then refused as not a
 * regular file) instead of blocking the loader. mi_load_options.
 * external_data_anywhere lifts all of it for trusted models (a model
 * cache that stores its files as symlinks). */
#include "onnx/onnx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__linux__) && defined(SYS_openat2) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define MI__HAVE_OPENAT2 1
#endif

#define MI__READ_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* The walk: each folder opened O_PATH | O_NOFOLLOW beneath the last. */
int mi__open_walk(int dirfd, const char *rel) {
    char part[256];
    int at = dirfd, owned = -1;
    const char *p = rel;
    for (;;) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizeof part) {
            errno = n ? ENAMETOOLONG : ENOENT;
            break;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        p += n;
        while (*p == '/') p++;
        int last = *p == '\0';
        if (strcmp(part, ".") == 0 && !last) continue;
        int fd = openat(at, part, last ? MI__READ_FLAGS | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        /* A symlinked folder fails as "not a directory": say it is a link. */
        if (fd < 0 && errno == ENOTDIR && fstatat(at, part, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
            errno = ELOOP;
        int e = errno;
        if (owned >= 0) close(owned);
        owned = -1;
        errno = e;
        if (fd < 0) return -1;
        if (last) return fd;
        at = owned = fd;
    }
    if (owned >= 0) close(owned);
    return -1;
}

int mi__open_beneath(const char *dir, const char *rel, int anywhere, int *escaped) {
    *escaped = 0;
    if (anywhere) {
        size_t len = strlen(dir) + strlen(rel) + 2;
        char *path = mi__malloc(len);
        if (!path) {
            errno = ENOMEM;
            return -1;
        }
        snprintf(path, len, "%s/%s", dir, rel);
        int fd = open(path, MI__READ_FLAGS);
        int e = errno;
        mi__free(path);
        errno = e;
        return fd;
    }
    int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return -1;
    int fd = -1;
#ifdef MI__HAVE_OPENAT2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)MI__READ_FLAGS;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd < 0 && errno == EXDEV) *escaped = 1;
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM && errno != EINVAL && errno != E2BIG)) {
        int e = errno;
        close(dirfd);
        errno = e;
        return fd;
    }
#endif
    fd = mi__open_walk(dirfd, rel);
    if (fd < 0 && errno == ELOOP) *escaped = 1; /* a symlink on the way */
    int e = errno;
    close(dirfd);
    errno = e;
    return fd;
}
