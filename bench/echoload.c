/*
 * echoload: the fiberline bench's load generator for line-echo servers.
 *
 *   echoload HOST PORT CONNS WINDOW SECONDS [LINE_BYTES]
 *
 * Opens CONNS TCP connections to HOST:PORT (a numeric IPv4 or IPv6 address)
 * and runs a closed loop on each: WINDOW lines of LINE_BYTES bytes (default
 * 32, at least 24) plus '\n' are in flight, and each echo that comes back
 * lets the next line go. A line spells its connection and sequence number and
 * is filled with bytes derived from both, so every byte of every echo is
 * compared with the line that was sent. The first tenth of the run is warm-up:
 * lines and latencies count only after it. One epoll loop, one thread, no
 * allocation after start-up, so the generator costs far less CPU per line than
 * any server it loads. Prints one line:
 *
 *   lines_per_s N mb_per_s N p50_us N p99_us N errors N conns N window N
 *
 * errors counts wrong or unexpected lines, connections the server closed or
 * reset, and connections still waiting for an echo sent over a second before
 * the end (a lost line); the exit status is 1 when it is not 0, 2 on bad usage
 * or when a connection cannot be opened. Build: gcc -O2 -o echoload echoload.c
 */
#define _GNU_SOURCE
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
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Latency histogram: one bucket per microsecond up to ~1 s, and one for anything slower. */
#define LATENCY_BUCKETS (1u << 20)
#define HEADER_BYTES 21 /* 'L', 6 hex digits of connection, '.', 12 of sequence, '.' */
#define STALL_NS 1000000000u /* an echo this overdue when the run ends counts as lost */

struct peer {
  int fd;
  unsigned id;
  int dead;
  int watching_out;      /* EPOLLOUT is registered: `out` has bytes the socket did not take */
  uint64_t next_send;    /* sequence number of the next line to queue */
  uint64_t next_echo;    /* sequence number of the next echo expected */
  uint64_t *sent_ns;     /* send time of line s at sent_ns[s % window] */
  char *in;              /* received bytes after the last whole line */
  size_t in_len;
  char *out;             /* queued bytes; out[out_off..out_len) not written yet */
  size_t out_off, out_len;
};

static unsigned window;
static size_t line_bytes; /* payload of a line, without its '\n' */
static size_t in_cap, out_cap;
static int epoll_fd;
static int measuring;
static uint64_t latency_count[LATENCY_BUCKETS + 1];
static uint64_t measured_lines, measured_bytes, errors;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Line `seq` of connection `id`, with its '\n', into dst (line_bytes + 1 bytes). */
static void compose(char *dst, unsigned id, uint64_t seq) {
  static const char hex[] = "0123456789abcdef";
  dst[0] = 'L';
  for (int i = 6, v = (int)id; i >= 1; i--, v >>= 4) dst[i] = hex[v & 15];
  dst[7] = '.';
  uint64_t s = seq;
  for (int i = 19; i >= 8; i--, s >>= 4) dst[i] = hex[s & 15];
  dst[20] = '.';
  unsigned mix = (unsigned)(seq * 2654435761u) ^ (id * 40503u);
  for (size_t i = HEADER_BYTES; i < line_bytes; i++) dst[i] = (char)('a' + (mix + (unsigned)i * 7u) % 26u);
  dst[line_bytes] = '\n';
}

static void watch(struct peer *p, int out) {
  struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = p };
  epoll_ctl(epoll_fd, EPOLL_CTL_MOD, p->fd, &ev);
  p->watching_out = out;
}

static void fail(struct peer *p) {
  errors++;
  p->dead = 1;
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
  close(p->fd);
}

/* Queues lines until WINDOW are in flight, then writes what the socket takes. */
static void send_more(struct peer *p) {
  if (p->out_off > 0) {
    memmove(p->out, p->out + p->out_off, p->out_len - p->out_off);
    p->out_len -= p->out_off;
    p->out_off = 0;
  }
  uint64_t now = now_ns();
  while (p->next_send - p->next_echo < window && p->out_len + line_bytes + 1 <= out_cap) {
    compose(p->out + p->out_len, p->id, p->next_send);
    p->out_len += line_bytes + 1;
    p->sent_ns[p->next_send % window] = now;
    p->next_send++;
  }
  while (p->out_off < p->out_len) {
    ssize_t n = send(p->fd, p->out + p->out_off, p->out_len - p->out_off, MSG_NOSIGNAL);
    if (n > 0) {
      p->out_off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (!p->watching_out) watch(p, 1);
      return;
    } else {
      fail(p);
      return;
    }
  }
  p->out_off = p->out_len = 0;
  if (p->watching_out) watch(p, 0);
}

/* Checks one echoed line (without its '\n') against the line it should be. */
static void check_line(struct peer *p, const char *line, size_t len, uint64_t now) {
  char expected[line_bytes + 1];
  if (p->next_echo == p->next_send) { /* nothing is in flight: the server made this line up */
    errors++;
    return;
  }
  compose(expected, p->id, p->next_echo);
  if (len != line_bytes || memcmp(line, expected, len) != 0) errors++;
  if (measuring) {
    uint64_t us = (now - p->sent_ns[p->next_echo % window] + 500) / 1000;
    latency_count[us < LATENCY_BUCKETS ? us : LATENCY_BUCKETS]++;
    measured_lines++;
    measured_bytes += len + 1;
  }
  p->next_echo++;
}

static void receive(struct peer *p) {
  ssize_t n = read(p->fd, p->in + p->in_len, in_cap - p->in_len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) { /* closed or reset by the server */
    fail(p);
    return;
  }
  p->in_len += (size_t)n;
  uint64_t now = now_ns();
  size_t start = 0;
  char *newline;
  while ((newline = memchr(p->in + start, '\n', p->in_len - start)) != NULL) {
    size_t end = (size_t)(newline - p->in);
    check_line(p, p->in + start, end - start, now);
    start = end + 1;
  }
  if (start == 0 && p->in_len == in_cap) { /* more than a window of bytes and no newline */
    fail(p);
    return;
  }
  memmove(p->in, p->in + start, p->in_len - start);
  p->in_len -= start;
  send_more(p);
}

/* The value at rank floor(q * total) of the sorted latencies, from the histogram. */
static uint64_t percentile_us(double q, uint64_t total) {
  if (total == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)total), seen = 0;
  for (uint64_t us = 0; us <= LATENCY_BUCKETS; us++) {
    seen += latency_count[us];
    if (seen > rank) return us;
  }
  return LATENCY_BUCKETS;
}

static int open_peer(struct peer *p, const struct addrinfo *addr) {
  p->fd = socket(addr->ai_family, SOCK_STREAM, 0);
  if (p->fd < 0) return -1;
  struct timeval bound = { .tv_sec = 10 }; /* a connect whose SYN is dropped gives up after 10 s */
  setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
  if (connect(p->fd, addr->ai_addr, addr->ai_addrlen) < 0) return -1;
  int on = 1;
  setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
  p->sent_ns = calloc(window, sizeof *p->sent_ns);
  p->in = malloc(in_cap);
  p->out = malloc(out_cap);
  if (p->sent_ns == NULL || p->in == NULL || p->out == NULL) return -1;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
  return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, p->fd, &ev);
}

int main(int argc, char **argv) {
  if (argc < 6 || argc > 7) {
    fprintf(stderr, "usage: %s HOST PORT CONNS WINDOW SECONDS [LINE_BYTES]\n", argv[0]);
    return 2;
  }
  const char *host = argv[1], *port = argv[2];
  int conns = atoi(argv[3]);
  int win = atoi(argv[4]);
  double seconds = atof(argv[5]);
  int bytes = argc == 7 ? atoi(argv[6]) : 32;
  if (conns < 1 || win < 1 || !(seconds > 0) || bytes > 4096) {
    fprintf(stderr, "echoload: CONNS and WINDOW must be at least 1, SECONDS above 0, LINE_BYTES at most 4096\n");
    return 2;
  }
  window = (unsigned)win;
  line_bytes = (size_t)(bytes < 24 ? 24 : bytes);
  out_cap = window * (line_bytes + 1);
  in_cap = out_cap + 1; /* a correct echo never leaves more than a window of bytes unread */

  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *addr;
  int gai = getaddrinfo(host, port, &hints, &addr);
  if (gai != 0) {
    fprintf(stderr, "echoload: bad address %s port %s: %s\n", host, port, gai_strerror(gai));
    return 2;
  }
  epoll_fd = epoll_create1(0);
  struct peer *peers = calloc((size_t)conns, sizeof *peers);
  if (epoll_fd < 0 || peers == NULL) {
    perror("echoload");
    return 2;
  }
  for (int i = 0; i < conns; i++) {
    peers[i].id = (unsigned)i;
    if (open_peer(&peers[i], addr) < 0) {
      fprintf(stderr, "echoload: connection %d to %s port %s: %s\n", i, host, port, strerror(errno));
      return 2;
    }
  }
  freeaddrinfo(addr);

  uint64_t started = now_ns();
  uint64_t warm_end = started + (uint64_t)(seconds * 1e8), run_end = started + (uint64_t)(seconds * 1e9);
  uint64_t measure_start = warm_end;
  for (int i = 0; i < conns; i++) send_more(&peers[i]);
  struct epoll_event events[512];
  for (;;) {
    uint64_t now = now_ns();
    if (!measuring && now >= warm_end) {
      measuring = 1;
      measure_start = now;
    }
    if (now >= run_end) break;
    uint64_t next = measuring ? run_end : warm_end;
    int timeout_ms = (int)((next - now + 999999) / 1000000);
    int ready = epoll_wait(epoll_fd, events, 512, timeout_ms);
    for (int k = 0; k < ready; k++) {
      struct peer *p = events[k].data.ptr;
      if (!p->dead && (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) receive(p);
      if (!p->dead && (events[k].events & EPOLLOUT)) send_more(p);
    }
  }
  uint64_t finished = now_ns();
  for (int i = 0; i < conns; i++) { /* an echo still missing after a second was lost, not slow */
    struct peer *p = &peers[i];
    if (!p->dead && p->next_echo < p->next_send && finished - p->sent_ns[p->next_echo % window] > STALL_NS) errors++;
  }
  double elapsed = (double)(finished - measure_start) / 1e9;
  printf("lines_per_s %.0f mb_per_s %.2f p50_us %llu p99_us %llu errors %llu conns %d window %d\n",
         (double)measured_lines / elapsed, (double)measured_bytes / elapsed / 1e6,
         (unsigned long long)percentile_us(0.50, measured_lines),
         (unsigned long long)percentile_us(0.99, measured_lines),
         (unsigned long long)errors, conns, win);
  return errors == 0 ? 0 : 1;
}
