/* bench/floor.c: the C floor for `rekt PORT`, the least a program can do for the same
 * answer on Linux, to measure rekt against (bench/README.md, "The C floor").
 *
 *   cc -O2 -pthread -o floor bench/floor.c && ./floor PORT
 *
 * 1. One netlink sock_diag request per family and protocol (IPv4 and IPv6, TCP and UDP),
 *    each filtered in the kernel by the source port (an INET_DIAG_BC_S_COND bytecode), as
 *    rekt's are; every state but TIME_WAIT. The answer is the sockets' inodes.
 * 2. No socket: prints nothing and exits 1 (the port is free), without a scan.
 * 3. Otherwise every /proc/PID/fd, on two threads (rekt's count on a 2-core machine), one
 *    openat per process relative to /proc and one readlinkat per fd relative to the fd
 *    directory, each link compared with `socket:[INODE]`. Prints each PID that holds one.
 *
 * No names, no users, no other namespaces, no bind() checks, no threads' own fd tables:
 * only what `rekt PORT` must do at least.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_INODES 4096
#define MAX_PIDS 65536
#define THREADS 2

static uint64_t inodes[MAX_INODES];
static size_t n_inodes;
static int pids[MAX_PIDS];
static size_t n_pids;
static int proc_fd;
static int held[MAX_PIDS];

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sends one filtered dump request and collects the inodes of the answer. */
static int query(int nl, int family, int protocol, uint16_t port) {
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
        struct nlattr attr;
        struct inet_diag_bc_op op;
        struct inet_diag_hostcond cond;
    } __attribute__((packed)) msg;
    memset(&msg, 0, sizeof msg);
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = family;
    msg.req.sdiag_protocol = protocol;
    msg.req.idiag_states = ~(1u << 6); /* every state but TIME_WAIT */
    msg.attr.nla_len = sizeof msg.attr + sizeof msg.op + sizeof msg.cond;
    msg.attr.nla_type = INET_DIAG_REQ_BYTECODE;
    msg.op.code = INET_DIAG_BC_S_COND;
    msg.op.yes = sizeof msg.op + sizeof msg.cond;
    msg.op.no = msg.op.yes + 4; /* past the end: reject */
    msg.cond.family = AF_UNSPEC;
    msg.cond.prefix_len = 0;
    msg.cond.port = port;
    if (send(nl, &msg, sizeof msg, 0) < 0) return -1;
    static char buf[32768];
    for (;;) {
        ssize_t n = recv(nl, buf, sizeof buf, 0);
        if (n < 0) return -1;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) return 0;
            if (h->nlmsg_type == NLMSG_ERROR) return -1;
            struct inet_diag_msg *m = NLMSG_DATA(h);
            if (n_inodes < MAX_INODES && m->idiag_inode) inodes[n_inodes++] = m->idiag_inode;
        }
    }
}

static void *scan(void *arg) {
    size_t me = (size_t)arg;
    char dents[32768], link[40], path[32];
    for (size_t i = me; i < n_pids; i += THREADS) {
        snprintf(path, sizeof path, "%d/fd", pids[i]);
        int dir = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) continue;
        long n;
        while ((n = syscall(SYS_getdents64, dir, dents, sizeof dents)) > 0) {
            for (long off = 0; off < n;) {
                struct dirent64 *d = (struct dirent64 *)(dents + off);
                off += d->d_reclen;
                if (d->d_name[0] == '.') continue;
                ssize_t len = readlinkat(dir, d->d_name, link, sizeof link - 1);
                if (len < 9 || memcmp(link, "socket:[", 8) != 0) continue;
                link[len] = 0;
                uint64_t inode = strtoull(link + 8, NULL, 10);
                if (bsearch(&inode, inodes, n_inodes, sizeof inode, cmp_u64)) held[i] = 1;
            }
        }
        close(dir);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: floor PORT\n");
        return 2;
    }
    uint16_t port = (uint16_t)atoi(argv[1]);
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return 2;
    int families[] = {AF_INET, AF_INET6}, protocols[] = {IPPROTO_TCP, IPPROTO_UDP};
    for (int f = 0; f < 2; f++)
        for (int p = 0; p < 2; p++)
            if (query(nl, families[f], protocols[p], port) < 0) return 2;
    close(nl);
    if (n_inodes == 0) return 1;
    qsort(inodes, n_inodes, sizeof inodes[0], cmp_u64);

    proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int list = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char dents[32768];
    long n;
    while ((n = syscall(SYS_getdents64, list, dents, sizeof dents)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(dents + off);
            off += d->d_reclen;
            if (d->d_name[0] >= '1' && d->d_name[0] <= '9' && n_pids < MAX_PIDS)
                pids[n_pids++] = atoi(d->d_name);
        }
    }
    close(list);
    pthread_t t[THREADS];
    for (size_t i = 1; i < THREADS; i++) pthread_create(&t[i], NULL, scan, (void *)i);
    scan((void *)0);
    for (size_t i = 1; i < THREADS; i++) pthread_join(t[i], NULL);
    for (size_t i = 0; i < n_pids; i++)
        if (held[i]) printf("%d\n", pids[i]);
    return 0;
}
