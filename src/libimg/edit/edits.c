/* Plans of edits: the conversion tools describe what they do as small,
 * named, idempotent edits; this runs them against the guest (or, for a
 * dry run, against a read-only guest plus an in-memory overlay), records
 * every change with a diff, keeps the undo record and rolls the image
 * back when a run fails. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img-edit.h"
#include "img-quote.h"
#include "img-json.h"
#include "private.h"

#define READ_MAX (256u << 20)   /* biggest file an edit may rewrite */
#define DIFF_MAX (4u << 20)     /* bigger text files get no diff */

enum ov_kind { OV_FILE, OV_REMOVED, OV_DIR, OV_LINK };

/* What a dry run would have done to one path (latest entry wins). */
struct overlay {
  char *path;                   /* canonical */
  enum ov_kind kind;
  void *buf;                    /* OV_FILE contents, OV_LINK target */
  size_t len;
};

struct plan_edit {
  const struct img_edit *edit;
  void *data;
  size_t n_changes;             /* notes excluded */
};

struct img_plan {
  struct img_ctx *ctx;
  char **images;
  size_t n_images;
  unsigned flags;
  char *undo_path;              /* NULL with IMG_PLAN_NO_UNDO */
  struct img_guest *g;
  struct img_undo *undo;
  bool opened;
  size_t n_edits;
  struct plan_edit *edits;
  size_t cur;                   /* the edit running */
  size_t n_changes;
  struct img_change *changes;
  size_t n_ov;
  struct overlay *ov;
  enum img_plan_status status;
  char *error;
  bool rolled_back;             /* this run's writes were undone */
  bool recovered;               /* an interrupted run was rolled back */
  size_t n_facts;
  char **facts;                 /* key, value, key, value ... */
};

/* ---- setup ---------------------------------------------------------- */

int
img_plan_new (struct img_ctx *ctx, const char *const *images,
              size_t n_images, unsigned flags, const char *undo,
              struct img_plan **planp)
{
  struct img_plan *p;
  size_t i;

  if (n_images == 0)
    return img_err (ctx, -EINVAL, "plan: no image given");
  p = calloc (1, sizeof *p);
  if (p == NULL)
    return img_err (ctx, -ENOMEM, "plan: out of memory");
  p->ctx = ctx;
  p->flags = flags;
  p->images = calloc (n_images, sizeof *p->images);
  if (p->images == NULL)
    goto oom;
  p->n_images = n_images;
  for (i = 0; i < n_images; i++)
    if ((p->images[i] = strdup (images[i])) == NULL)
      goto oom;
  if (!(flags & IMG_PLAN_NO_UNDO)) {
    if (undo)
      p->undo_path = strdup (undo);
    else if (asprintf (&p->undo_path, "%s%s", images[0], IMG_UNDO_SUFFIX) == -1)
      p->undo_path = NULL;
    if (p->undo_path == NULL)
      goto oom;
  }
  *planp = p;
  return 0;

 oom:
  img_plan_free (p);
  return img_err (ctx, -ENOMEM, "plan: out of memory");
}

void
img_plan_free (struct img_plan *p)
{
  size_t i;

  if (p == NULL)
    return;
  img_guest_close (p->g);
  img_undo_free (p->undo);
  for (i = 0; i < p->n_images && p->images; i++)
    free (p->images[i]);
  free (p->images);
  free (p->undo_path);
  free (p->edits);
  for (i = 0; i < p->n_changes; i++) {
    free (p->changes[i].path);
    free (p->changes[i].target);
    free (p->changes[i].detail);
    free (p->changes[i].diff);
  }
  free (p->changes);
  for (i = 0; i < p->n_ov; i++) {
    free (p->ov[i].path);
    free (p->ov[i].buf);
  }
  free (p->ov);
  for (i = 0; i < 2 * p->n_facts; i++)
    free (p->facts[i]);
  free (p->facts);
  free (p->error);
  free (p);
}

int
img_plan_fact (struct img_plan *p, const char *key, const char *fmt, ...)
{
  char *v = NULL, *k, **nf;
  va_list ap;
  size_t i;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&v, fmt, ap);
  va_end (ap);
  if (n < 0)
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  for (i = 0; i < p->n_facts; i++)
    if (strcmp (p->facts[2 * i], key) == 0) {
      free (p->facts[2 * i + 1]);
      p->facts[2 * i + 1] = v;
      return 0;
    }
  k = strdup (key);
  nf = realloc (p->facts, 2 * (p->n_facts + 1) * sizeof *nf);
  if (k == NULL || nf == NULL) {
    free (k);
    free (v);
    if (nf)
      p->facts = nf;
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  }
  p->facts = nf;
  nf[2 * p->n_facts] = k;
  nf[2 * p->n_facts + 1] = v;
  p->n_facts++;
  return 0;
}

size_t
img_plan_n_changed (const struct img_plan *p)
{
  size_t i, n = 0;

  for (i = 0; i < p->n_changes; i++)
    n += p->changes[i].action != IMG_CHANGE_NOTE;
  return n;
}

int
img_plan_add (struct img_plan *p, const struct img_edit *edit, void *data)
{
  struct plan_edit *e = realloc (p->edits, (p->n_edits + 1) * sizeof *e);

  if (e == NULL)
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  p->edits = e;
  e[p->n_edits++] = (struct plan_edit) { edit, data, 0 };
  return 0;
}

struct img_guest *
img_plan_guest (struct img_plan *p)
{
  return p->g;
}

bool
img_plan_is_dry_run (const struct img_plan *p)
{
  return (p->flags & IMG_PLAN_DRY_RUN) != 0;
}

/* Deals with an undo file left by an earlier run before we open. */
static int
settle_undo_file (struct img_plan *p)
{
  const char *path = p->undo_path;
  int state, r;

  r = img_undo_state (p->ctx, path, &state);
  if (r == -ENOENT) {
    img_ctx_clear_error (p->ctx);
    return 0;
  }
  if (r < 0)
    return r;
  switch (state) {
  case IMG_UNDO_RUNNING:
    if (p->flags & IMG_PLAN_NO_AUTO_ROLLBACK)
      return img_err (p->ctx, -EBUSY,
                      "%s: a previous run was interrupted (undo file %s); roll it back first",
                      p->images[0], path);
    r = img_undo_rollback (p->ctx, path, (const char *const *) p->images,
                           p->n_images, IMG_UNDO_LAST_RUN);
    if (r < 0)
      return r;
    img_warn (p->ctx, "%s: a previous run was interrupted; rolled its changes back (from %s)",
              p->images[0], path);
    p->recovered = true;
    return settle_undo_file (p);
  case IMG_UNDO_COMPLETE:
    return 0;                   /* appended to */
  default:
    /* Rolled back (the image is as it was before), or cut short before
     * the first write: nothing in it is needed any more. */
    if (unlink (path) == -1)
      return img_err (p->ctx, -errno, "%s: cannot remove the old undo file: %m", path);
    return 0;
  }
}

int
img_plan_open (struct img_plan *p)
{
  bool dry = img_plan_is_dry_run (p);
  size_t i, n;
  struct img_disk *disks[64];
  int r;

  if (p->opened)
    return p->g ? 0 : img_err (p->ctx, -EINVAL, "plan: already run");
  p->opened = true;
  if (!dry && p->undo_path) {
    r = settle_undo_file (p);
    if (r < 0)
      return r;
  }
  r = img_guest_open (p->ctx, (const char *const *) p->images, p->n_images,
                      dry ? IMG_FS_RDONLY : IMG_FS_RDWR, &p->g);
  if (r < 0) {
    p->g = NULL;
    return r;
  }
  if (img_guest_n_roots (p->g) == 0) {
    r = img_err (p->ctx, -ENOENT, "%s: no Linux root filesystem found",
                 p->images[0]);
    goto err;
  }
  if (dry || p->undo_path == NULL)
    return 0;
  n = img_guest_n_disks (p->g);
  if (n > sizeof disks / sizeof disks[0]) {
    r = img_err (p->ctx, -EINVAL, "%s: too many images", p->images[0]);
    goto err;
  }
  for (i = 0; i < n; i++)
    disks[i] = img_guest_disk (p->g, i);
  r = img_undo_begin (p->ctx, p->undo_path, disks, n, true, &p->undo);
  if (r < 0)
    goto err;
  return 0;

 err:
  img_guest_close (p->g);
  p->g = NULL;
  return r;
}

/* ---- the dry-run overlay ------------------------------------------ */

static char *
canon_path (struct img_plan *p, const char *path)
{
  char *c = NULL;

  if (img_guest_realpath (p->g, path, false, &c) == 0)
    return c;
  img_ctx_clear_error (p->ctx);
  return strdup (path);
}

/* The latest overlay entry deciding about CANON: itself, or a removed
 * directory above it. */
static struct overlay *
ov_find (struct img_plan *p, const char *canon)
{
  size_t i, l;

  for (i = p->n_ov; i-- > 0;) {
    struct overlay *o = &p->ov[i];
    if (strcmp (o->path, canon) == 0)
      return o;
    l = strlen (o->path);
    if (o->kind == OV_REMOVED && strncmp (o->path, canon, l) == 0
        && canon[l] == '/')
      return o;
  }
  return NULL;
}

static int
ov_add (struct img_plan *p, const char *path, enum ov_kind kind,
        const void *buf, size_t len)
{
  struct overlay *o = realloc (p->ov, (p->n_ov + 1) * sizeof *o);
  char *c;
  void *copy = NULL;

  if (o == NULL)
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  p->ov = o;
  c = canon_path (p, path);
  if (buf && (copy = malloc (len + 1)) != NULL) {
    memcpy (copy, buf, len);
    ((char *) copy)[len] = '\0';
  }
  if (c == NULL || (buf && copy == NULL)) {
    free (c);
    free (copy);
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  }
  o[p->n_ov++] = (struct overlay) { c, kind, copy, len };
  return 0;
}

/* ---- recording changes -------------------------------------------- */

static int
record (struct img_plan *p, enum img_change_action action, const char *path,
        const char *target, char *detail, char *diff)
{
  struct img_change *c = realloc (p->changes, (p->n_changes + 1) * sizeof *c);

  if (c == NULL)
    goto oom;
  p->changes = c;
  c += p->n_changes;
  memset (c, 0, sizeof *c);
  c->edit = p->edits[p->cur].edit->name;
  c->action = action;
  c->detail = detail;
  c->diff = diff;
  c->path = strdup (path);
  c->target = target ? strdup (target) : NULL;
  if (c->path == NULL || (target && c->target == NULL)) {
    free (c->path);
    free (c->target);
    detail = diff = NULL;
    goto oom;
  }
  p->n_changes++;
  if (action != IMG_CHANGE_NOTE)
    p->edits[p->cur].n_changes++;
  img_dbg (p->ctx, "plan: %s: %s %s", c->edit, img_plan_action_name (action), path);
  return 0;

 oom:
  free (detail);
  free (diff);
  return img_err (p->ctx, -ENOMEM, "plan: out of memory");
}

/* ---- helpers for edits -------------------------------------------- */

static int
lstat_ov (struct img_plan *p, const char *path, struct img_stat *st,
          struct overlay **ovp)
{
  *ovp = NULL;
  if (img_plan_is_dry_run (p)) {
    char *c = canon_path (p, path);
    struct overlay *o;
    if (c == NULL)
      return img_err (p->ctx, -ENOMEM, "plan: out of memory");
    o = ov_find (p, c);
    free (c);
    if (o) {
      *ovp = o;
      if (o->kind == OV_REMOVED)
        return -ENOENT;
      memset (st, 0, sizeof *st);
      st->mode = o->kind == OV_DIR ? S_IFDIR | 0755
        : o->kind == OV_LINK ? S_IFLNK | 0777 : S_IFREG | 0644;
      st->size = o->len;
      return 0;
    }
  }
  return img_guest_lstat (p->g, path, st);
}

int
img_plan_read_file (struct img_plan *p, const char *path, size_t max,
                    void **buf, size_t *len)
{
  if (img_plan_is_dry_run (p)) {
    char *c = canon_path (p, path);
    struct overlay *o;
    if (c == NULL)
      return img_err (p->ctx, -ENOMEM, "plan: out of memory");
    o = ov_find (p, c);
    free (c);
    if (o && o->kind == OV_FILE) {
      if (o->len > max)
        return img_err (p->ctx, -EFBIG, "%s: bigger than %zu bytes", path, max);
      *buf = malloc (o->len + 1);
      if (*buf == NULL)
        return img_err (p->ctx, -ENOMEM, "plan: out of memory");
      memcpy (*buf, o->buf, o->len + 1);
      *len = o->len;
      return 0;
    }
    if (o && o->kind == OV_REMOVED)
      return img_err (p->ctx, -ENOENT, "%s: no such file", path);
    if (o)
      return img_err (p->ctx, -EISDIR, "%s: not a regular file", path);
  }
  return img_guest_read_file (p->g, path, max, buf, len);
}

bool
img_plan_exists (struct img_plan *p, const char *path)
{
  struct img_stat st;
  struct overlay *o;
  int r = lstat_ov (p, path, &st, &o);

  img_ctx_clear_error (p->ctx);
  if (r == 0 && S_ISLNK (st.mode) && o == NULL)
    return img_guest_exists (p->g, path);
  return r == 0;
}

static int
set_detail_sizes (char **detail, bool existed, size_t old_len, size_t new_len)
{
  int r;

  if (existed)
    r = asprintf (detail, "binary file, %zu -> %zu bytes", old_len, new_len);
  else
    r = asprintf (detail, "binary file, %zu bytes", new_len);
  if (r == -1) {
    *detail = NULL;
    return -ENOMEM;
  }
  return 0;
}

/* Whether the regular file PATH (O: its overlay, if any) holds exactly
 * BUF, LEN bytes, read a chunk at a time: a file too big to diff (a root
 * archive) is never read whole, so it costs no file budget. */
static bool
same_bytes (struct img_plan *p, struct overlay *o, const char *path,
            const void *buf, size_t len)
{
  const size_t chunk = 1u << 20;
  unsigned char *tmp;
  size_t off = 0, got;
  bool same = true;

  if (o)
    return o->kind == OV_FILE && o->len == len && memcmp (o->buf, buf, len) == 0;
  tmp = malloc (chunk);
  if (tmp == NULL)
    return false;
  while (same && off < len) {
    size_t want = len - off < chunk ? len - off : chunk;
    if (img_guest_pread (p->g, path, tmp, want, off, &got) < 0 || got != want
        || memcmp (tmp, (const unsigned char *) buf + off, want) != 0)
      same = false;
    off += want;
  }
  free (tmp);
  img_ctx_clear_error (p->ctx);
  return same;
}

int
img_plan_write_file (struct img_plan *p, const char *path, const void *buf,
                     size_t len, uint32_t mode)
{
  void *old = NULL;
  size_t old_len = 0;
  char *diff = NULL, *detail = NULL, *la = NULL, *lb = NULL;
  struct img_stat st;
  struct overlay *o;
  bool existed;
  int r;

  /* Too big for a diff: compare in chunks, report the sizes. */
  r = lstat_ov (p, path, &st, &o);
  if (r == 0 && S_ISREG (st.mode) && (st.size > DIFF_MAX || len > DIFF_MAX)) {
    if (st.size == len && same_bytes (p, o, path, buf, len))
      return 0;                 /* done already */
    if (set_detail_sizes (&detail, true, (size_t) st.size, len) < 0)
      return img_err (p->ctx, -ENOMEM, "plan: out of memory");
    existed = true;
    goto write;
  }
  if (r < 0)
    img_ctx_clear_error (p->ctx);

  r = img_plan_read_file (p, path, READ_MAX, &old, &old_len);
  if (r == -ENOENT) {
    img_ctx_clear_error (p->ctx);
    existed = false;
  }
  else if (r < 0)
    return r;
  else
    existed = true;
  if (existed && old_len == len && memcmp (old, buf, len) == 0) {
    free (old);
    return 0;                   /* done already */
  }
  if (old_len <= DIFF_MAX && len <= DIFF_MAX && img_is_text (buf, len)
      && (!existed || img_is_text (old, old_len))) {
    if (asprintf (&la, "a%s", path) == -1)
      la = NULL;
    if (asprintf (&lb, "b%s", path) == -1)
      lb = NULL;
    r = la && lb ? img_udiff (existed ? old : "", old_len, buf, len, 3,
                              existed ? la : "/dev/null", lb, &diff)
      : -ENOMEM;
    if (r == 0 && diff[0] == '\0') {
      free (diff);
      diff = NULL;
    }
  }
  else
    r = 0;
  free (old);
  free (la);
  free (lb);
  if (r == 0 && diff == NULL)
    r = set_detail_sizes (&detail, existed, old_len, len);
  if (r < 0) {
    free (diff);
    return img_err (p->ctx, r, "plan: out of memory");
  }
 write:
  if (img_plan_is_dry_run (p))
    r = ov_add (p, path, OV_FILE, buf, len);
  else
    r = img_guest_write_file (p->g, path, buf, len, mode);
  if (r < 0) {
    free (diff);
    free (detail);
    return r;
  }
  return record (p, existed ? IMG_CHANGE_WRITE : IMG_CHANGE_ADD, path, NULL,
                 detail, diff);
}

int
img_plan_remove (struct img_plan *p, const char *path)
{
  struct img_stat st;
  struct overlay *o;
  int r;

  r = lstat_ov (p, path, &st, &o);
  if (r == -ENOENT) {
    img_ctx_clear_error (p->ctx);
    return 0;
  }
  if (r < 0)
    return r;
  if (img_plan_is_dry_run (p))
    r = ov_add (p, path, OV_REMOVED, NULL, 0);
  else if (S_ISDIR (st.mode))
    r = img_guest_rmdir (p->g, path);
  else
    r = img_guest_unlink (p->g, path);
  if (r < 0)
    return r;
  return record (p, IMG_CHANGE_REMOVE, path, NULL, NULL, NULL);
}

int
img_plan_rename (struct img_plan *p, const char *oldpath, const char *newpath)
{
  struct img_stat st, nst;
  struct overlay *o, *no;
  int r;

  r = lstat_ov (p, oldpath, &st, &o);
  if (r == -ENOENT) {
    img_ctx_clear_error (p->ctx);
    r = lstat_ov (p, newpath, &nst, &no);
    if (r == 0)
      return 0;                 /* moved already */
    return img_err (p->ctx, -ENOENT, "%s: cannot move %s to %s: neither exists",
                    p->images[0], oldpath, newpath);
  }
  if (r < 0)
    return r;
  if (img_plan_is_dry_run (p)) {
    void *buf = NULL;
    size_t len = 0;
    enum ov_kind kind = S_ISDIR (st.mode) ? OV_DIR : OV_FILE;

    if (S_ISLNK (st.mode)) {
      kind = OV_LINK;
      if (o)
        buf = o->buf ? strdup (o->buf) : NULL;
      else if ((r = img_guest_readlink (p->g, oldpath, (char **) &buf)) < 0)
        return r;
      len = buf ? strlen (buf) : 0;
    }
    else if (kind == OV_FILE
             && (r = img_plan_read_file (p, oldpath, READ_MAX, &buf, &len)) < 0)
      return r;
    r = ov_add (p, newpath, kind, buf, len);
    free (buf);
    if (r == 0)
      r = ov_add (p, oldpath, OV_REMOVED, NULL, 0);
  }
  else
    r = img_guest_rename (p->g, oldpath, newpath);
  if (r < 0)
    return r;
  return record (p, IMG_CHANGE_MOVE, oldpath, newpath, NULL, NULL);
}

int
img_plan_mkdir_p (struct img_plan *p, const char *path, uint32_t mode)
{
  struct img_stat st;
  struct overlay *o;
  int r;

  r = lstat_ov (p, path, &st, &o);
  if (r == 0 && S_ISLNK (st.mode) && o == NULL)
    r = img_guest_stat (p->g, path, &st);
  if (r == 0) {
    if (S_ISDIR (st.mode))
      return 0;
    return img_err (p->ctx, -ENOTDIR, "%s: %s exists and is not a directory",
                    p->images[0], path);
  }
  if (r != -ENOENT)
    return r;
  img_ctx_clear_error (p->ctx);
  if (img_plan_is_dry_run (p))
    r = ov_add (p, path, OV_DIR, NULL, 0);
  else
    r = img_guest_mkdir_p (p->g, path, mode);
  if (r < 0)
    return r;
  return record (p, IMG_CHANGE_MKDIR, path, NULL, NULL, NULL);
}

int
img_plan_symlink (struct img_plan *p, const char *target, const char *path)
{
  struct img_stat st;
  struct overlay *o;
  char *cur = NULL;
  int r;

  r = lstat_ov (p, path, &st, &o);
  if (r == 0) {
    bool same = false;
    if (S_ISLNK (st.mode)) {
      if (o)
        same = o->buf && strcmp (o->buf, target) == 0;
      else if (img_guest_readlink (p->g, path, &cur) == 0)
        same = strcmp (cur, target) == 0;
      free (cur);
    }
    if (same)
      return 0;
    return img_err (p->ctx, -EEXIST, "%s: %s exists and is not a link to %s",
                    p->images[0], path, target);
  }
  if (r != -ENOENT)
    return r;
  img_ctx_clear_error (p->ctx);
  if (img_plan_is_dry_run (p))
    r = ov_add (p, path, OV_LINK, target, strlen (target));
  else
    r = img_guest_symlink (p->g, target, path);
  if (r < 0)
    return r;
  return record (p, IMG_CHANGE_SYMLINK, path, target, NULL, NULL);
}

int
img_plan_note (struct img_plan *p, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r == -1)
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  return record (p, IMG_CHANGE_NOTE, "", NULL, msg, NULL);
}

/* ---- running -------------------------------------------------------- */

static size_t
count_changes (const struct img_plan *p)
{
  size_t i, n = 0;

  for (i = 0; i < p->n_changes; i++)
    if (p->changes[i].action != IMG_CHANGE_NOTE)
      n++;
  return n;
}

static void
set_error (struct img_plan *p)
{
  free (p->error);
  p->error = strdup (img_ctx_error (p->ctx));
}

int
img_plan_run (struct img_plan *p)
{
  bool written;
  size_t i;
  int r, r2;

  r = img_plan_open (p);
  if (r < 0) {
    set_error (p);
    p->status = IMG_PLAN_FAILED;
    return r;
  }
  for (i = 0; i < p->n_edits && r == 0; i++) {
    p->cur = i;
    img_dbg (p->ctx, "plan: running edit %s", p->edits[i].edit->name);
    img_ctx_clear_error (p->ctx);
    r = p->edits[i].edit->apply (p, p->edits[i].data);
    if (r < 0 && img_ctx_error (p->ctx)[0] == '\0')
      img_err (p->ctx, r, "%s: edit %s failed: %s", p->images[0],
               p->edits[i].edit->name, strerror (-r));
  }
  if (r < 0)
    set_error (p);
  /* Everything the edits wrote reaches the image here (and is saved in
   * the undo file first, by the hook). */
  r2 = img_guest_close_fs (p->g);
  if (r2 < 0 && r == 0) {
    r = r2;
    set_error (p);
  }
  /* The undo record is committed while the disks are still open: the
   * images stay locked (ours, qemu's) until the record is complete. */
  if (r == 0 && p->undo) {
    struct img_disk *disks[64];
    size_t n = img_guest_n_disks (p->g);
    for (i = 0; i < n && i < 64; i++)
      disks[i] = img_guest_disk (p->g, i);
    if ((r = img_undo_commit_disks (p->undo, disks, n)) < 0)
      /* The image is converted but the record of it is not complete:
       * treat like an interrupted run, roll back. */
      set_error (p);
  }
  r2 = img_guest_close (p->g);
  p->g = NULL;
  if (r2 < 0 && r == 0) {
    r = r2;
    set_error (p);
  }
  if (r == 0) {
    img_undo_free (p->undo);
    p->undo = NULL;
    p->status = count_changes (p) ? IMG_PLAN_CHANGED : IMG_PLAN_NOTHING;
    return 0;
  }

  p->status = IMG_PLAN_FAILED;
  if (img_plan_is_dry_run (p))
    return r;
  if (p->undo == NULL) {
    p->status = IMG_PLAN_FAILED_DIRTY;
    return r;
  }
  written = img_undo_written (p->undo);
  /* Let go of the undo file (and its lock) before rolling back from it. */
  img_undo_free (p->undo);
  p->undo = NULL;
  if (written) {
    char *err = p->error;
    p->error = NULL;
    r2 = img_undo_rollback (p->ctx, p->undo_path,
                            (const char *const *) p->images, p->n_images,
                            IMG_UNDO_LAST_RUN);
    if (r2 < 0) {
      img_err (p->ctx, r2, "%s: %s; rolling back also failed: %s (run the rollback by hand from %s)",
               p->images[0], err ? err : "", img_ctx_error (p->ctx),
               p->undo_path);
      free (err);
      set_error (p);
      p->status = IMG_PLAN_FAILED_DIRTY;
      return r;
    }
    p->error = err;
    p->rolled_back = true;
    img_err (p->ctx, r, "%s (every change was rolled back)",
             err ? err : "error");
  }
  return r;
}

/* ---- results and reports ---------------------------------------------- */

size_t
img_plan_n_changes (const struct img_plan *p)
{
  return p->n_changes;
}

const struct img_change *
img_plan_change (const struct img_plan *p, size_t i)
{
  return i < p->n_changes ? &p->changes[i] : NULL;
}

enum img_plan_status
img_plan_status (const struct img_plan *p)
{
  return p->status;
}

const char *
img_plan_action_name (enum img_change_action a)
{
  switch (a) {
  case IMG_CHANGE_ADD: return "add";
  case IMG_CHANGE_WRITE: return "write";
  case IMG_CHANGE_REMOVE: return "remove";
  case IMG_CHANGE_MOVE: return "move";
  case IMG_CHANGE_MKDIR: return "mkdir";
  case IMG_CHANGE_SYMLINK: return "symlink";
  case IMG_CHANGE_NOTE: return "note";
  }
  return "?";
}

static const char *
status_name (enum img_plan_status s)
{
  switch (s) {
  case IMG_PLAN_CHANGED: return "changed";
  case IMG_PLAN_NOTHING: return "nothing-to-do";
  case IMG_PLAN_FAILED: return "failed";
  case IMG_PLAN_FAILED_DIRTY: return "failed-dirty";
  default: return "not-run";
  }
}

/* Prints S for the terminal (img_quote_term): guest paths, notes and diff
 * lines may hold any byte.  With KEEP_NL (diffs) newlines pass. */
static void
term_puts (FILE *fp, const char *s, int keep_nl)
{
  char *q = img_quote_term (s ? s : "", keep_nl);

  fputs (q ? q : "?", fp);
  free (q);
}

void
img_plan_report_text (const struct img_plan *p, FILE *fp)
{
  bool dry = img_plan_is_dry_run (p);
  size_t i, n = count_changes (p);

  if (p->recovered)
    fprintf (fp, "A previous run was interrupted; its changes were rolled back first.\n");
  for (i = 0; i < p->n_changes; i++) {
    const struct img_change *c = &p->changes[i];

    fputc ('[', fp);
    term_puts (fp, c->edit, 0);
    if (c->action == IMG_CHANGE_NOTE) {
      fputs ("] note: ", fp);
      term_puts (fp, c->detail, 0);
      fputc ('\n', fp);
      continue;
    }
    fprintf (fp, "] %s ", img_plan_action_name (c->action));
    term_puts (fp, c->path, 0);
    if (c->action == IMG_CHANGE_MOVE || c->action == IMG_CHANGE_SYMLINK) {
      fputs (" -> ", fp);
      term_puts (fp, c->target, 0);
    }
    if (c->detail) {
      fputs (" (", fp);
      term_puts (fp, c->detail, 0);
      fputc (')', fp);
    }
    fputc ('\n', fp);
    if (c->diff)
      term_puts (fp, c->diff, 1);
  }
  for (i = 0; i < p->n_facts; i++) {
    term_puts (fp, p->facts[2 * i], 0);
    fputs (": ", fp);
    term_puts (fp, p->facts[2 * i + 1], 0);
    fputc ('\n', fp);
  }
  switch (p->status) {
  case IMG_PLAN_CHANGED:
    fprintf (fp, "%zu change%s %s.\n", n, n == 1 ? "" : "s",
             dry ? "would be made (dry run: nothing was written)" : "made");
    if (!dry && p->undo_path) {
      fputs ("Undo record: ", fp);
      term_puts (fp, p->undo_path, 0);
      fputc ('\n', fp);
    }
    break;
  case IMG_PLAN_NOTHING:
    fprintf (fp, "Nothing to do.\n");
    break;
  case IMG_PLAN_FAILED:
    fputs ("Failed: ", fp);
    term_puts (fp, p->error, 0);
    fputc ('\n', fp);
    if (p->rolled_back)
      fprintf (fp, "Every change of this run was rolled back; the image is as it was.\n");
    else
      fprintf (fp, "The image was not changed.\n");
    break;
  case IMG_PLAN_FAILED_DIRTY:
    fputs ("Failed: ", fp);
    term_puts (fp, p->error, 0);
    fputc ('\n', fp);
    fputs ("The image may be partly changed", fp);
    if (p->undo_path) {
      fputs ("; roll it back from ", fp);
      term_puts (fp, p->undo_path, 0);
    }
    fputs (".\n", fp);
    break;
  default:
    break;
  }
}

void
img_plan_report_json (const struct img_plan *p, FILE *fp)
{
  struct img_json j;
  size_t i, k;

  img_json_init (&j, fp);
  img_json_begin_object (&j);
  img_json_key (&j, "images");
  img_json_begin_array (&j);
  for (i = 0; i < p->n_images; i++)
    img_json_string (&j, p->images[i]);
  img_json_end_array (&j);
  img_json_kv_bool (&j, "dry_run", img_plan_is_dry_run (p));
  img_json_kv_string (&j, "status", status_name (p->status));
  img_json_kv_string (&j, "error", p->error);
  img_json_kv_string (&j, "undo", img_plan_is_dry_run (p) ? NULL : p->undo_path);
  img_json_kv_bool (&j, "rolled_back", p->rolled_back);
  img_json_kv_bool (&j, "recovered_interrupted_run", p->recovered);
  img_json_key (&j, "facts");
  img_json_begin_object (&j);
  for (i = 0; i < p->n_facts; i++)
    img_json_kv_string (&j, p->facts[2 * i], p->facts[2 * i + 1]);
  img_json_end_object (&j);
  img_json_key (&j, "edits");
  img_json_begin_array (&j);
  for (i = 0; i < p->n_edits; i++) {
    img_json_begin_object (&j);
    img_json_kv_string (&j, "name", p->edits[i].edit->name);
    img_json_kv_string (&j, "description", p->edits[i].edit->description);
    img_json_kv_uint (&j, "changes", p->edits[i].n_changes);
    img_json_end_object (&j);
  }
  img_json_end_array (&j);
  img_json_key (&j, "changes");
  img_json_begin_array (&j);
  for (k = 0; k < p->n_changes; k++) {
    const struct img_change *c = &p->changes[k];
    img_json_begin_object (&j);
    img_json_kv_string (&j, "edit", c->edit);
    img_json_kv_string (&j, "action", img_plan_action_name (c->action));
    if (c->action != IMG_CHANGE_NOTE)
      img_json_kv_string (&j, "path", c->path);
    if (c->target)
      img_json_kv_string (&j, "target", c->target);
    if (c->detail)
      img_json_kv_string (&j, "detail", c->detail);
    if (c->diff)
      img_json_kv_string (&j, "diff", c->diff);
    img_json_end_object (&j);
  }
  img_json_end_array (&j);
  img_json_end_object (&j);
  img_json_finish (&j);
}
