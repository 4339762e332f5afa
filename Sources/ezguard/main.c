// ezguard: ends the process groups of a dead ezrun's tasks.
//   ezguard GRACE_MS TOKEN  (started by `ezrun run`/`resume`, one per ezrun process)
// ezrun spawns one guard, in a process group of its own, with a pipe on its stdin whose
// write end only ezrun holds (close-on-exec: no task inherits it). After each spawn
// ezrun writes `+PGID START\n` (the group, and its leader's start time: field 22 of
// /proc/PID/stat), and `-PGID\n` once that group is gone. When ezrun dies, by any
// signal including SIGKILL, the kernel closes the pipe: the guard reads EOF, sends
// SIGTERM to every group still registered, waits up to GRACE_MS for them to go, then
// SIGKILLs what is left, and exits. A group whose leader is alive with another start
// time is not touched (its pid was reused). A task spawned in the instant before ezrun
// could register it is found too: every task's environment holds EZFLOW_RUNNER=TOKEN
// (random per ezrun process), and the guard also ends the group of every process whose
// environment holds it. No per-task process: a task costs two small writes to a pipe
// (docs/RUNNING.md, "Process lifetimes").
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct group { long pgid; unsigned long long start; };
static struct group *groups;
static size_t count, capacity;

static void add(long pgid, unsigned long long start) {
    if (count == capacity) {
        capacity = capacity ? capacity * 2 : 64;
        groups = realloc(groups, capacity * sizeof *groups);
        if (!groups) _exit(70);
    }
    groups[count++] = (struct group){pgid, start};
}

static void drop(long pgid) {
    for (size_t i = 0; i < count; i++) {
        if (groups[i].pgid == pgid) { groups[i] = groups[--count]; return; }
    }
}

/// The leader's start time, 0 when it is gone (or a zombie).
static unsigned long long start_of(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    char state = p[2];
    if (state == 'Z' || state == 'X') return 0;
    // Fields after ")": state is field 3; starttime is field 22.
    int field = 2;
    for (; *p && field < 22; p++) if (*p == ' ') field++;
    return strtoull(p, NULL, 10);
}

/// Field 5 (the process group) of /proc/PID/stat, or -1.
static long pgid_of(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long ppid, pgid;
    char state;
    if (!p || sscanf(p + 2, "%c %ld %ld", &state, &ppid, &pgid) != 3 || state == 'Z') return -1;
    return pgid;
}

/// Whether /proc/PID/environ holds the entry `want` (NUL-terminated there).
static int has_entry(long pid, const char *want) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    static char buf[1 << 16];
    size_t len = strlen(want), have = 0;
    int found = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0) break;
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != 0) continue;
            if (i - start == len && memcmp(buf + start, want, len) == 0) { found = 1; break; }
            start = i + 1;
        }
        if (found) break;
        memmove(buf, buf + start, have - start);  // keep the unfinished entry
        have -= start;
        if (have >= sizeof buf - 1) have = 0;     // an entry longer than the buffer: skip it
    }
    close(fd);
    return found;
}

/// Adds the group of every live process whose environment marks it as this runner's task.
static void add_marked(const char *token) {
    char want[160];
    snprintf(want, sizeof want, "EZFLOW_RUNNER=%s", token);
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    long self = getpid();
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == self || !has_entry(pid, want)) continue;
        long g = pgid_of(pid);
        if (g <= 1) continue;
        int known = 0;
        for (size_t i = 0; i < count && !known; i++) known = groups[i].pgid == g;
        if (!known) add(g, 0);
    }
    closedir(d);
}

static int alive(long pgid) { return kill(-pgid, 0) == 0 || errno != ESRCH; }

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/// How long after EOF, and how often, the marked processes are looked for again.
#define RESCAN_MS 500
#define RESCAN_EVERY_MS 50

/// SIGTERM to the groups found since the last call.
static void term_new(size_t *signalled) {
    for (; *signalled < count; (*signalled)++) kill(-groups[*signalled].pgid, SIGTERM);
}

int main(int argc, char **argv) {
    long long grace = argc > 1 ? atoll(argv[1]) : 2000;
    const char *token = argc > 2 ? argv[2] : NULL;
    // Terminal signals are ezrun's to handle; the guard only watches its pipe.
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == '+') {
            char *end;
            long pgid = strtol(line + 1, &end, 10);
            add(pgid, strtoull(end, NULL, 10));
        } else if (line[0] == '-') {
            drop(strtol(line + 1, NULL, 10));
        }
    }
    // EOF: ezrun is gone. Its tasks: the registered groups, and the marked processes.
    if (token && *token) add_marked(token);
    // Keep only the groups that are provably its tasks.
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        unsigned long long s = start_of(groups[i].pgid);
        if (s != 0 && groups[i].start != 0 && s != groups[i].start) continue;  // pid reused
        if (alive(groups[i].pgid)) groups[kept++] = groups[i];
    }
    count = kept;
    size_t signalled = 0;
    term_new(&signalled);
    // A task ezrun was spawning when it died may exec (and take on its marked
    // environment) just after the scan above: scan again for a short while.
    long long eof_at = now_ms(), last_scan = eof_at;
    long long kill_at = eof_at + (grace > 0 ? grace : 0);
    while (1) {
        long long now = now_ms();
        if (token && *token && now < eof_at + RESCAN_MS && now - last_scan >= RESCAN_EVERY_MS) {
            last_scan = now;
            add_marked(token);
            term_new(&signalled);
        }
        int any = 0;
        for (size_t i = 0; i < count && !any; i++) any = alive(groups[i].pgid);
        if (!any && (!token || !*token || now >= eof_at + RESCAN_MS)) return 0;
        if (now >= kill_at) break;
        usleep(5000);
    }
    for (size_t i = 0; i < count; i++) kill(-groups[i].pgid, SIGKILL);
    return 0;
}
