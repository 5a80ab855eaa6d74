/* Fuzz target for img-ramcopy's tar reader: "unpack ARCHIVE DST" and
 * "archive-size ARCHIVE", the code the RAM boot runs on an archive read
 * from the guest's disk.  The real sources are included, not a copy: their
 * exit () longjmps back here, their allocations are tracked so that a run
 * cut short by an error is freed, and their stdout and stderr go to
 * memory.
 * Built as is, it is a replay program: each argument is a file, and one
 * summary line is printed for it ("ok files=N" or "error: MESSAGE", then
 * what archive-size said), so the seed corpus (tests/fuzz/tar-corpus)
 * runs under make check.  Built with -DIMG_FUZZ_LIBFUZZER and
 * -fsanitize=fuzzer it is a libFuzzer target.  Each input goes into a
 * memfd read through /proc/self/fd, is unpacked into a fresh directory
 * a few levels below a scratch one, and that tree is removed again.
 * Besides crashes, a broken invariant aborts: anything made or changed
 * outside the target, an error that is not exactly one line with status
 * 1, a success that does not print its one result line. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf (stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      abort (); \
    } \
  } while (0)

/* ---- what the included code gets in place of exit, malloc, stdio ---- */

/* Set while img-ramcopy's code runs: its exit () comes back here. */
static jmp_buf fuzz_jmp;
static bool fuzz_active;
static int fuzz_status;

static void fuzz_exit (int status) __attribute__ ((noreturn));

static void
fuzz_exit (int status)
{
  if (!fuzz_active)
    exit (status);
  fuzz_active = false;
  fuzz_status = status;
  longjmp (fuzz_jmp, 1);
}

/* Every block the run allocates is on one list, so that what an error
 * left behind (its whole struct unpack, names, pax records) is freed
 * after it: libFuzzer runs millions of inputs in one process, and the
 * replay program must pass LeakSanitizer. */
union fuzz_block {
  struct {
    union fuzz_block *prev, *next;
  } l;
  max_align_t align;
};

static union fuzz_block fuzz_blocks = { .l = { &fuzz_blocks, &fuzz_blocks } };

static void
fuzz_link (union fuzz_block *b)
{
  b->l.prev = &fuzz_blocks;
  b->l.next = fuzz_blocks.l.next;
  fuzz_blocks.l.next->l.prev = b;
  fuzz_blocks.l.next = b;
}

static void
fuzz_unlink (union fuzz_block *b)
{
  b->l.prev->l.next = b->l.next;
  b->l.next->l.prev = b->l.prev;
}

static void *
fuzz_malloc (size_t n)
{
  union fuzz_block *b;

  if (n > SIZE_MAX - sizeof *b || (b = malloc (sizeof *b + n)) == NULL)
    return NULL;
  fuzz_link (b);
  return b + 1;
}

static void
fuzz_free (void *p)
{
  union fuzz_block *b = p;

  if (p == NULL)
    return;
  fuzz_unlink (b - 1);
  free (b - 1);
}

static void *
fuzz_realloc (void *p, size_t n)
{
  union fuzz_block *b;

  if (p == NULL)
    return fuzz_malloc (n);
  if (n > SIZE_MAX - sizeof *b)
    return NULL;
  b = (union fuzz_block *) p - 1;
  fuzz_unlink (b);
  b = realloc (b, sizeof *b + n);
  if (b == NULL) {
    /* The old block is still there, and still the caller's. */
    fuzz_link ((union fuzz_block *) p - 1);
    return NULL;
  }
  fuzz_link (b);
  return b + 1;
}

static char *
fuzz_copy (const char *s, size_t len)
{
  char *r = fuzz_malloc (len + 1);

  if (r) {
    memcpy (r, s, len);
    r[len] = '\0';
  }
  return r;
}

static char *
fuzz_strndup (const char *s, size_t n)
{
  return fuzz_copy (s, strnlen (s, n));
}

static char *
fuzz_strdup (const char *s)
{
  return fuzz_copy (s, strlen (s));
}

static int fuzz_asprintf (char **r, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
fuzz_asprintf (char **r, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  if (n < 0 || (*r = fuzz_malloc ((size_t) n + 1)) == NULL)
    return -1;
  va_start (ap, fmt);
  vsnprintf (*r, (size_t) n + 1, fmt, ap);
  va_end (ap);
  return n;
}

/* zlib allocates through the z_stream's hooks; its state then goes
 * on the list with the rest. */
static voidpf
fuzz_zalloc (voidpf opaque, uInt items, uInt size)
{
  (void) opaque;
  if (size && items > SIZE_MAX / size)
    return Z_NULL;
  return fuzz_malloc ((size_t) items * size);
}

static void
fuzz_zfree (voidpf opaque, voidpf p)
{
  (void) opaque;
  fuzz_free (p);
}

static int
fuzz_inflate_init2 (z_stream *z, int bits)
{
  z->zalloc = fuzz_zalloc;
  z->zfree = fuzz_zfree;
  z->opaque = Z_NULL;
  return inflateInit2_ (z, bits, ZLIB_VERSION, (int) sizeof *z);
}

/* libzstd has no such hooks in its stable API: the one stream a run
 * makes is remembered instead. */
static ZSTD_DStream *fuzz_zd;

static ZSTD_DStream *
fuzz_zstd_create (void)
{
  fuzz_zd = ZSTD_createDStream ();
  return fuzz_zd;
}

static size_t
fuzz_zstd_free (ZSTD_DStream *zd)
{
  if (zd == fuzz_zd)
    fuzz_zd = NULL;
  return ZSTD_freeDStream (zd);
}

/* The run's stdout and stderr: memory streams.  The real fd 2 is left
 * alone, so that a sanitizer report still reaches it. */
static FILE *fuzz_stdout, *fuzz_stderr;

#undef main
#define main img_ramcopy_main
int img_ramcopy_main (int argc, char **argv);
#undef exit
#define exit(status) fuzz_exit (status)
#undef malloc
#define malloc(n) fuzz_malloc (n)
#undef realloc
#define realloc(p, n) fuzz_realloc (p, n)
#undef free
#define free(p) fuzz_free (p)
#undef strdup
#define strdup(s) fuzz_strdup (s)
#undef strndup
#define strndup(s, n) fuzz_strndup (s, n)
#undef asprintf
#define asprintf(...) fuzz_asprintf (__VA_ARGS__)
#undef inflateInit2
#define inflateInit2(z, bits) fuzz_inflate_init2 (z, bits)
#define ZSTD_createDStream() fuzz_zstd_create ()
#define ZSTD_freeDStream(zd) fuzz_zstd_free (zd)
#undef stdout
#define stdout fuzz_stdout
#undef stderr
#define stderr fuzz_stderr
#undef printf
#define printf(...) fprintf (fuzz_stdout, __VA_ARGS__)

#include "../src/ramboot/img-ramcopy.c"
#include "../src/ramboot/ramcopy-copy.c"
#include "../src/ramboot/ramcopy-stream.c"
#include "../src/ramboot/ramcopy-unpack.c"

#undef main
#undef exit
#undef malloc
#undef realloc
#undef free
#undef strdup
#undef strndup
#undef asprintf
#undef inflateInit2
#undef ZSTD_createDStream
#undef ZSTD_freeDStream
#undef stdout
#define stdout stdout
#undef stderr
#define stderr stderr
#undef printf

/* ---- one run ---------------------------------------------------------- */

/* The scratch directory: DST is SCRATCH/a/b/dst, so that "..", "../..",
 * and "../../.." from it all land in here, where SCRATCH/sentinel and
 * the two levels between must stay as they are. */
static char *scratch, *dst, *sentinel;
static struct stat sentinel_st;

/* Bytes a run may write into one file: hostile gzip and zstd inputs
 * expand a thousand- or a million-fold, and DST is on a real disk. */
#define FSIZE_MAX (64 << 20)

/* The fds open now, as a bitmap of the first FD_MAP. */
#define FD_MAP 4096

static void
open_fds (unsigned char map[FD_MAP / 8])
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;

  CHECK (d != NULL);
  memset (map, 0, FD_MAP / 8);
  while ((e = readdir (d)) != NULL) {
    int fd = atoi (e->d_name);
    if (e->d_name[0] == '.' || fd == dirfd (d))
      continue;
    CHECK (fd < FD_MAP);
    map[fd / 8] |= 1 << (fd % 8);
  }
  closedir (d);
}

/* Closes what the run opened and an error left open; true if there
 * was any such fd.  DO_CLOSE false only looks. */
static bool
close_fds_since (const unsigned char before[FD_MAP / 8], bool do_close)
{
  unsigned char now[FD_MAP / 8];
  bool any = false;
  int fd;

  open_fds (now);
  for (fd = 0; fd < FD_MAP; fd++)
    if ((now[fd / 8] & ~before[fd / 8]) & (1 << (fd % 8))) {
      any = true;
      if (do_close)
        close (fd);
    }
  return any;
}

#define new_fds(before) close_fds_since ((before), false)
#define close_new_fds(before) close_fds_since ((before), true)

static int
remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) st;
  (void) ftw;
  if ((flag == FTW_DP ? rmdir (path) : unlink (path)) < 0) {
    fprintf (stderr, "fuzz-tar: cannot remove %s: %s\n", path, strerror (errno));
    abort ();
  }
  return 0;
}

/* Removes PATH's tree, symlinks as links, never following one. */
static void
remove_tree (const char *path)
{
  if (nftw (path, remove_one, 64, FTW_PHYS | FTW_DEPTH | FTW_MOUNT) < 0) {
    fprintf (stderr, "fuzz-tar: cannot remove %s: %s\n", path, strerror (errno));
    abort ();
  }
}

static int n_outside;

static int
count_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) path;
  (void) st;
  (void) flag;
  (void) ftw;
  n_outside++;
  return 0;
}

/* With DST removed, nothing is left below SCRATCH but a/b and the
 * sentinel, as they were made. */
static void
check_outside (void)
{
  struct stat st;

  n_outside = 0;
  CHECK (nftw (scratch, count_one, 64, FTW_PHYS) == 0);
  CHECK (n_outside == 4);       /* SCRATCH, a, a/b, sentinel */
  CHECK (lstat (sentinel, &st) == 0);
  CHECK (st.st_mode == sentinel_st.st_mode && st.st_uid == sentinel_st.st_uid
         && st.st_gid == sentinel_st.st_gid && st.st_nlink == sentinel_st.st_nlink);
  CHECK (st.st_mtim.tv_sec == sentinel_st.st_mtim.tv_sec
         && st.st_mtim.tv_nsec == sentinel_st.st_mtim.tv_nsec);
  CHECK (st.st_ctim.tv_sec == sentinel_st.st_ctim.tv_sec
         && st.st_ctim.tv_nsec == sentinel_st.st_ctim.tv_nsec);
}

static void
cleanup_scratch (void)
{
  if (scratch)
    remove_tree (scratch);
}

static void
setup (void)
{
  const char *tmp = getenv ("TMPDIR");
  struct rlimit rl = { FSIZE_MAX, FSIZE_MAX };
  char *p;

  if (asprintf (&scratch, "%s/fuzz-tar.XXXXXX", tmp && tmp[0] ? tmp : "/tmp") < 0
      || mkdtemp (scratch) == NULL
      || asprintf (&dst, "%s/a/b/dst", scratch) < 0
      || asprintf (&sentinel, "%s/sentinel", scratch) < 0) {
    fprintf (stderr, "fuzz-tar: cannot make a scratch directory: %s\n", strerror (errno));
    exit (2);
  }
  atexit (cleanup_scratch);
  CHECK (mkdir (sentinel, 0700) == 0);
  /* SCRATCH/a and SCRATCH/a/b; DST itself is made for each run. */
  for (p = dst + strlen (scratch) + 1; (p = strchr (p, '/')) != NULL; *p++ = '/') {
    *p = '\0';
    CHECK (mkdir (dst, 0755) == 0);
  }
  CHECK (lstat (sentinel, &sentinel_st) == 0);
  /* Writes past the limit then fail (EFBIG), they do not kill us. */
  signal (SIGXFSZ, SIG_IGN);
  CHECK (setrlimit (RLIMIT_FSIZE, &rl) == 0);
}

struct result {
  int status;                   /* exit status, 0 when main returned 0 */
  char *out, *err;              /* what it printed */
};

/* img-ramcopy's main; its exit status, whichever way it ends. */
static int
call_main (int argc, char **argv)
{
  if (setjmp (fuzz_jmp) == 0) {
    fuzz_active = true;
    fuzz_status = img_ramcopy_main (argc, argv);
    fuzz_active = false;
  }
  return fuzz_status;
}

/* Runs img-ramcopy's main on ARGV in this process.  Afterwards nothing
 * of the run is left: not its memory, its fds, its cwd or its umask. */
static void
run_main (char **argv, int argc, struct result *res)
{
  unsigned char fds[FD_MAP / 8];
  size_t out_len, err_len;
  int cwd = open (".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  mode_t mask = umask (022);

  CHECK (cwd >= 0);
  umask (mask);
  fuzz_stdout = open_memstream (&res->out, &out_len);
  fuzz_stderr = open_memstream (&res->err, &err_len);
  CHECK (fuzz_stdout != NULL && fuzz_stderr != NULL);
  open_fds (fds);
  CHECK (fuzz_blocks.l.next == &fuzz_blocks && fuzz_zd == NULL);
  xattrs_skipped = 0;

  res->status = call_main (argc, argv);

  /* A success frees and closes what it took; an error leaves it. */
  if (res->status == 0)
    CHECK (fuzz_blocks.l.next == &fuzz_blocks && fuzz_zd == NULL && !new_fds (fds));
  close_new_fds (fds);
  ZSTD_freeDStream (fuzz_zd);
  fuzz_zd = NULL;
  while (fuzz_blocks.l.next != &fuzz_blocks)
    fuzz_free ((union fuzz_block *) fuzz_blocks.l.next + 1);
  CHECK (fchdir (cwd) == 0);
  close (cwd);
  umask (mask);
  CHECK (fclose (fuzz_stdout) == 0 && fclose (fuzz_stderr) == 0);
  fuzz_stdout = fuzz_stderr = NULL;
}

static size_t
count_lines (const char *s)
{
  size_t n = 0;

  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* An error is one line, status 1, nothing on stdout; a success prints
 * one line of the form PREFIX..., with at most a one-line warning. */
static void
check_result (const struct result *res, const char *prefix)
{
  if (res->status != 0) {
    CHECK (res->status == 1);
    CHECK (res->out[0] == '\0');
    CHECK (count_lines (res->err) == 1 && res->err[strlen (res->err) - 1] == '\n');
    CHECK (strncmp (res->err, PROG ": ", strlen (PROG ": ")) == 0);
    return;
  }
  CHECK (count_lines (res->out) == 1 && res->out[strlen (res->out) - 1] == '\n');
  CHECK (strncmp (res->out, prefix, strlen (prefix)) == 0);
  CHECK (res->err[0] == '\0'
         || (count_lines (res->err) == 1 && res->err[strlen (res->err) - 1] == '\n'
             && strncmp (res->err, PROG ": warning: ", strlen (PROG ": warning: ")) == 0));
}

/* The message without "img-ramcopy: unpack ARCHIVE: " or its newline. */
static void
print_message (FILE *out, const char *err, const char *archive)
{
  size_t len;

  if (strncmp (err, PROG ": ", strlen (PROG ": ")) == 0)
    err += strlen (PROG ": ");
  if (strncmp (err, "unpack ", 7) == 0 && strncmp (err + 7, archive, strlen (archive)) == 0
      && strncmp (err + 7 + strlen (archive), ": ", 2) == 0)
    err += 7 + strlen (archive) + 2;
  len = strcspn (err, "\n");
  fprintf (out, "%.*s", (int) len, err);
}

/* Unpacks DATA into a fresh DST, then reads its size; checks the
 * invariants and prints a summary line to OUT (if not NULL). */
static void
run_input (const uint8_t *data, size_t size, FILE *out)
{
  char archive[64];
  char *unpack_argv[] = { (char *) PROG, (char *) "unpack", archive, dst, NULL };
  char *size_argv[] = { (char *) PROG, (char *) "archive-size", archive, NULL };
  struct result res;
  size_t done = 0;
  int fd;

  fd = memfd_create ("fuzz-tar", MFD_CLOEXEC);
  CHECK (fd >= 0);
  while (done < size) {
    ssize_t n = write (fd, data + done, size - done);
    CHECK (n > 0);
    done += (size_t) n;
  }
  snprintf (archive, sizeof archive, "/proc/self/fd/%d", fd);

  CHECK (mkdir (dst, 0755) == 0);
  run_main (unpack_argv, 4, &res);
  check_result (&res, "files=");
  if (out) {
    if (res.status == 0) {
      uint64_t files;
      CHECK (sscanf (res.out, "files=%" SCNu64, &files) == 1);
      fprintf (out, "ok files=%" PRIu64, files);
    } else {
      fprintf (out, "error: ");
      print_message (out, res.err, archive);
    }
  }
  free (res.out);
  free (res.err);
  remove_tree (dst);
  check_outside ();

  run_main (size_argv, 3, &res);
  check_result (&res, "bytes=");
  if (out) {
    if (res.status == 0)
      fprintf (out, "; archive-size %.*s\n", (int) strcspn (res.out, "\n"), res.out);
    else {
      fprintf (out, "; archive-size error: ");
      print_message (out, res.err, archive);
      fprintf (out, "\n");
    }
  }
  free (res.out);
  free (res.err);
  check_outside ();
  close (fd);
}

#ifdef IMG_FUZZ_LIBFUZZER

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (scratch == NULL)
    setup ();
  run_input (data, size, NULL);
  return 0;
}

#else

int
main (int argc, char *argv[])
{
  int i;

  if (argc < 2) {
    fprintf (stderr, "usage: %s ARCHIVE...\n", argv[0]);
    return 2;
  }
  setup ();
  for (i = 1; i < argc; i++) {
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    int fd = open (argv[i], O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
      fprintf (stderr, "%s: %s\n", argv[i], strerror (errno));
      return 1;
    }
    do {
      if (len == cap) {
        cap = cap ? cap * 2 : 65536;
        data = realloc (data, cap);
        CHECK (data != NULL);
      }
      n = read (fd, data + len, cap - len);
      if (n < 0 && errno != EINTR) {
        fprintf (stderr, "%s: %s\n", argv[i], strerror (errno));
        return 1;
      }
      if (n > 0)
        len += (size_t) n;
    } while (n != 0);
    close (fd);
    printf ("%s: ", argv[i]);
    fflush (stdout);
    run_input (data, len, stdout);
    fflush (stdout);
    free (data);
  }
  return 0;
}

#endif
