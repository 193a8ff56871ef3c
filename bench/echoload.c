// Copied verbatim (below this header) from ../shared/bench/echoload.c, the
// reference load generator shared with the fiberline project, so the bench runs
// where that directory is absent. bench/run.ts prefers ../shared/bench/echoload.c
// when present. Build: gcc -O2 -o echoload echoload.c

// echoload: closed-loop load generator for line-echo servers.
// Opens C connections; each keeps W lines in flight; every line carries its
// connection and sequence number, and every echoed line is checked.
// usage: echoload HOST PORT CONNS WINDOW SECONDS [PAYLOAD_BYTES]
// prints: lines/s, MB/s, latency p50/p99 (us), errors; exit 1 on any mismatch.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  uint64_t sent, recv;
  uint64_t *stamp; /* ring of send times, size window */
  char *rbuf; size_t rlen, rcap;
  char *wbuf; size_t wlen, woff, wcap;
  int closed;
} conn_t;

static int W, P;
static uint64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec; }
static uint64_t *lat; static size_t nlat, caplat;
static uint64_t errors;

static void fill(conn_t *c, int id) {
  while (c->sent - c->recv < (uint64_t)W) {
    if (c->wlen + P + 1 > c->wcap) break;
    char *p = c->wbuf + c->wlen;
    int n = snprintf(p, P + 1, "%06d:%012llu:", id, (unsigned long long)c->sent);
    for (int i = n; i < P; i++) p[i] = 'a' + (i % 26);
    p[P] = '\n';
    c->wlen += P + 1;
    c->stamp[c->sent % W] = now_ns();
    c->sent++;
  }
}
static void flush(conn_t *c) {
  while (c->woff < c->wlen) {
    ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
    if (n < 0) { if (errno == EAGAIN) return; c->closed = 1; return; }
    c->woff += n;
  }
  c->wlen = c->woff = 0;
}
int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: %s HOST PORT CONNS WINDOW SECONDS [PAYLOAD]\n", argv[0]); return 2; }
  const char *host = argv[1]; int port = atoi(argv[2]); int C = atoi(argv[3]); W = atoi(argv[4]);
  double secs = atof(argv[5]); P = argc > 6 ? atoi(argv[6]) : 32; if (P < 24) P = 24;
  struct sockaddr_in sa = {0}; sa.sin_family = AF_INET; sa.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }
  conn_t *cs = calloc(C, sizeof *cs);
  int ep = epoll_create1(0);
  caplat = 1 << 22; lat = malloc(caplat * sizeof *lat);
  for (int i = 0; i < C; i++) {
    conn_t *c = &cs[i];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("connect"); return 1; }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    c->stamp = calloc(W, sizeof(uint64_t));
    c->rcap = (size_t)(P + 1) * W * 2 + 65536; c->rbuf = malloc(c->rcap);
    c->wcap = (size_t)(P + 1) * W + 1; c->wbuf = malloc(c->wcap);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = i };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), warm = t0 + (uint64_t)(secs * 1e8);
  uint64_t counted = 0, bytes = 0; int measuring = 0; uint64_t tm = 0;
  for (int i = 0; i < C; i++) { fill(&cs[i], i); flush(&cs[i]); }
  struct epoll_event evs[256];
  for (;;) {
    uint64_t t = now_ns();
    if (t >= end) break;
    if (!measuring && t >= warm) { measuring = 1; tm = t; }
    int n = epoll_wait(ep, evs, 256, 50);
    for (int k = 0; k < n; k++) {
      int i = evs[k].data.u32; conn_t *c = &cs[i];
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          if (c->rlen == c->rcap) { fprintf(stderr, "line overflow\n"); errors++; c->rlen = 0; }
          ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
          if (r == 0) { if (!c->closed) { errors++; c->closed = 1; } break; }
          if (r < 0) { if (errno != EAGAIN) { errors++; c->closed = 1; } break; }
          c->rlen += r;
          size_t off = 0; uint64_t tn = now_ns();
          for (;;) {
            char *nl = memchr(c->rbuf + off, '\n', c->rlen - off);
            if (!nl) break;
            size_t len = nl - (c->rbuf + off);
            char expect[64]; int en = snprintf(expect, sizeof expect, "%06d:%012llu:", i, (unsigned long long)c->recv);
            size_t el = len; if (el > 0 && c->rbuf[off + el - 1] == '\r') el--;
            if (el != (size_t)P || memcmp(c->rbuf + off, expect, en) != 0) errors++;
            if (measuring) { counted++; bytes += len + 1; if (nlat < caplat) lat[nlat++] = tn - c->stamp[c->recv % W]; }
            c->recv++;
            off = nl - c->rbuf + 1;
          }
          memmove(c->rbuf, c->rbuf + off, c->rlen - off); c->rlen -= off;
        }
      }
      if (!c->closed) { fill(c, i); flush(c); }
    }
  }
  double el = (now_ns() - tm) / 1e9;
  int cmp(const void *a, const void *b) { uint64_t x = *(uint64_t *)a, y = *(uint64_t *)b; return x < y ? -1 : x > y; }
  qsort(lat, nlat, sizeof *lat, cmp);
  double p50 = nlat ? lat[nlat / 2] / 1e3 : 0, p99 = nlat ? lat[(size_t)(nlat * 0.99)] / 1e3 : 0;
  printf("lines_per_s %.0f mb_per_s %.2f p50_us %.0f p99_us %.0f errors %llu conns %d window %d\n",
         counted / el, bytes / el / 1e6, p50, p99, (unsigned long long)errors, C, W);
  return errors ? 1 : 0;
}
