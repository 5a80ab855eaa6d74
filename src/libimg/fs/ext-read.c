/* ext2/3/4 operations that only read: lstat, readlink, readdir, pread,
 * extended attributes. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/ext-private.h"

/* ---- operations ----------------------------------------------------- */

/* What lstat says of the inode IN. */
static void
fill_stat (struct ext_fs *e, const struct ext_inode *in, struct img_stat *st)
{
  st->ino = in->ino;
  st->mode = in->i->i_mode;
  st->uid = img_internal_ext_large_uid (in->i);
  st->gid = img_internal_ext_large_gid (in->i);
  st->nlink = in->i->i_links_count;
  st->size = EXT2_I_SIZE (in->i);
  st->blocks = ext2fs_get_stat_i_blocks (e->fs, (struct ext2_inode *) in->i);
  if (LINUX_S_ISCHR (in->i->i_mode) || LINUX_S_ISBLK (in->i->i_mode)) {
    /* Old encoding in i_block[0] when it fits 8+8 bits, else the new
     * one in i_block[1] (as the kernel writes them). */
    uint32_t old = in->i->i_block[0], new = in->i->i_block[1];
    if (old) {
      st->rdev_major = (old >> 8) & 0xff;
      st->rdev_minor = old & 0xff;
    }
    else {
      st->rdev_major = (new & 0xfff00) >> 8;
      st->rdev_minor = (new & 0xff) | ((new >> 12) & 0xfff00);
    }
  }
  GET_TIME (e, in->i, atime, &st->atime, &st->atime_ns);
  GET_TIME (e, in->i, mtime, &st->mtime, &st->mtime_ns);
  GET_TIME (e, in->i, ctime, &st->ctime, &st->ctime_ns);
}

int
img_internal_ext_lstat (struct img_fs *fs, const struct img_fs_path *p,
                        struct img_stat *st)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_lookup (e, p, &in);
  if (r < 0)
    return r;
  fill_stat (e, &in, st);
  img_internal_ext_inode_free (&in);
  return 0;
}

int
img_internal_ext_stat_ino (struct img_fs *fs, const struct img_fs_path *p,
                           uint64_t ino, struct img_stat *st)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  int r;

  img_internal_ext_io_reset (e);
  if (ino == 0 || ino > e->fs->super->s_inodes_count)
    return img_err (e->base.ctx, -EUCLEAN, "%s: %s: %s: entry names inode %" PRIu64
                    ", out of range", e->base.name, e->base.type, p->path, ino);
  r = img_internal_ext_inode_read (e, p->path, (ext2_ino_t) ino, &in);
  if (r < 0)
    return r;
  fill_stat (e, &in, st);
  img_internal_ext_inode_free (&in);
  return 0;
}

/* Blocks PBLK.. of a run, the bytes [POS, END) of the file, into DST:
 * whole blocks straight in with one read, a partial first or last block
 * through BOUNCE. */
static errcode_t
read_run (ext2_filsys fs, blk64_t pblk, uint64_t pos, uint64_t end,
          unsigned char *dst, unsigned char *bounce)
{
  unsigned bs = fs->blocksize;
  uint64_t full;
  errcode_t err;

  if (pos % bs != 0 || end - pos < bs) {
    size_t in = pos % bs, n = (size_t) MIN ((uint64_t) (bs - in), end - pos);
    if ((err = io_channel_read_blk64 (fs->io, pblk, 1, bounce)))
      return err;
    memcpy (dst, bounce + in, n);
    dst += n;
    pos += n;
    pblk++;
  }
  full = (end - pos) / bs;
  if (full > 0) {
    if ((err = io_channel_read_blk64 (fs->io, pblk, (int) full, dst)))
      return err;
    dst += full * bs;
    pos += full * bs;
    pblk += full;
  }
  if (pos < end) {
    if ((err = io_channel_read_blk64 (fs->io, pblk, 1, bounce)))
      return err;
    memcpy (dst, bounce, (size_t) (end - pos));
  }
  return 0;
}

/* The bytes [OFF, OFF + LEN) of an extent-mapped inode (all inside its
 * size), a run of contiguous blocks at a time: ext2fs_file_read goes a
 * block at a time through its own buffer and the io cache, which for a
 * 40 MB initrd was a fifth of img2pv's run.  Holes and unwritten extents
 * read as zeros, a block at a time for a hole (as ext2fs_file_read).  An
 * extent that maps blocks outside the filesystem is refused. */
static int
read_extents (struct ext_fs *e, const char *path, struct ext_inode *in,
              unsigned char *buf, size_t len, uint64_t off)
{
  ext2_filsys fs = e->fs;
  unsigned bs = fs->blocksize;
  uint64_t pos = off, end = off + len, nblocks = ext2fs_blocks_count (fs->super);
  ext2_extent_handle_t h;
  unsigned char *bounce = NULL;
  errcode_t err;
  int r = 0;

  err = ext2fs_extent_open2 (fs, in->ino, (struct ext2_inode *) in->i, &h);
  if (err)
    return img_internal_ext_fail (e, path, "reading the file's extents", err);
  if ((bounce = malloc (bs)) == NULL) {
    ext2fs_extent_free (h);
    return img_err (e->base.ctx, -ENOMEM, "%s: %s: %s: out of memory", e->base.name,
                    e->base.type, path);
  }
  while (pos < end) {
    blk64_t lblk = pos / bs;
    struct ext2fs_extent x;
    uint64_t run_end = MIN (end, (lblk + 1) * bs);
    blk64_t pblk = 0;

    err = ext2fs_extent_goto2 (h, 0, lblk);
    if (err == 0)
      err = ext2fs_extent_get (h, EXT2_EXTENT_CURRENT, &x);
    if (err == EXT2_ET_EXTENT_NOT_FOUND)
      err = 0;                  /* a hole: this block reads as zeros */
    else if (err)
      break;
    else if (lblk < x.e_lblk || lblk - x.e_lblk >= x.e_len) {
      r = img_err (e->base.ctx, -EUCLEAN, "%s: %s: %s: the extent tree does not map block %llu "
                   "as it says", e->base.name, e->base.type, path, (unsigned long long) lblk);
      break;
    }
    else {
      run_end = MIN (end, (x.e_lblk + (uint64_t) x.e_len) * bs);
      if (!(x.e_flags & EXT2_EXTENT_FLAGS_UNINIT)) {
        if (x.e_pblk == 0 || x.e_pblk < fs->super->s_first_data_block || x.e_pblk >= nblocks
            || x.e_len > nblocks - x.e_pblk) {
          r = img_err (e->base.ctx, -EUCLEAN, "%s: %s: %s: an extent maps blocks %llu-%llu, "
                       "outside the filesystem's %llu", e->base.name, e->base.type, path,
                       (unsigned long long) x.e_pblk,
                       (unsigned long long) (x.e_pblk + x.e_len - 1), (unsigned long long) nblocks);
          break;
        }
        pblk = x.e_pblk + (lblk - x.e_lblk);
      }
    }
    if (pblk == 0)
      memset (buf + (pos - off), 0, (size_t) (run_end - pos));
    else if ((err = read_run (fs, pblk, pos, run_end, buf + (pos - off), bounce)))
      break;
    pos = run_end;
  }
  if (err && r == 0)
    r = img_internal_ext_fail (e, path, "reading the file", err);
  free (bounce);
  ext2fs_extent_free (h);
  return r;
}

/* Reads up to LEN bytes at OFF of inode IN's data (regular files and
 * slow or inline symlinks alike). */
static int
read_data (struct ext_fs *e, const char *path, struct ext_inode *in,
           void *buf, size_t len, uint64_t off, size_t *got)
{
  ext2_file_t f;
  errcode_t err, err2;
  size_t done = 0;
  int r;

  *got = 0;
  if (off >= EXT2_I_SIZE (in->i) || len == 0)
    return 0;
  if ((in->i->i_flags & EXT4_EXTENTS_FL) && !(in->i->i_flags & EXT4_INLINE_DATA_FL)) {
    len = (size_t) MIN ((uint64_t) len, EXT2_I_SIZE (in->i) - off);
    if ((r = read_extents (e, path, in, buf, len, off)) < 0)
      return r;
    *got = len;
    return 0;
  }
  err = ext2fs_file_open2 (e->fs, in->ino, (struct ext2_inode *) in->i, 0, &f);
  if (err)
    return img_internal_ext_fail (e, path, "opening the file", err);
  err = ext2fs_file_llseek (f, off, EXT2_SEEK_SET, NULL);
  while (err == 0 && done < len) {
    unsigned int n, chunk = MIN (len - done, (size_t) 1 << 30);

    err = ext2fs_file_read (f, (char *) buf + done, chunk, &n);
    if (err || n == 0)
      break;
    done += n;
  }
  err2 = ext2fs_file_close (f);
  if (err == 0)
    err = err2;
  if (err)
    return img_internal_ext_fail (e, path, "reading the file", err);
  *got = done;
  return 0;
}

int
img_internal_ext_readlink (struct img_fs *fs, const struct img_fs_path *p,
                           char **target)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  uint64_t size;
  size_t got;
  char *t;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_lookup (e, p, &in);
  if (r < 0)
    return r;
  size = EXT2_I_SIZE (in.i);
  if (!LINUX_S_ISLNK (in.i->i_mode)) {
    r = img_err (e->base.ctx, -EINVAL, "%s: %s: %s: not a symbolic link",
                 e->base.name, e->base.type, p->path);
    goto out;
  }
  if (in.i->i_flags & EXT4_ENCRYPT_FL) {
    r = img_err (e->base.ctx, -EOPNOTSUPP,
                 "%s: %s: %s: the symlink is encrypted", e->base.name,
                 e->base.type, p->path);
    goto out;
  }
  if (size == 0 || size >= e->fs->blocksize || size >= IMG_FS_PATH_MAX) {
    r = img_err (e->base.ctx, -EUCLEAN,
                 "%s: %s: %s: symlink has an invalid length (%" PRIu64 ")",
                 e->base.name, e->base.type, p->path, size);
    goto out;
  }
  t = malloc (size + 1);
  if (t == NULL) {
    r = img_err (e->base.ctx, -ENOMEM, "%s: %s: out of memory",
                 e->base.name, e->base.type);
    goto out;
  }
  if (ext2fs_is_fast_symlink ((struct ext2_inode *) in.i)
      && size < sizeof in.i->i_block) {
    memcpy (t, in.i->i_block, size);
    got = size;
  }
  else {
    r = read_data (e, p->path, &in, t, size, 0, &got);
    if (r < 0) {
      free (t);
      goto out;
    }
  }
  if (got != size) {
    free (t);
    r = img_err (e->base.ctx, -EUCLEAN,
                 "%s: %s: %s: symlink target is shorter than its size",
                 e->base.name, e->base.type, p->path);
    goto out;
  }
  t[size] = '\0';
  *target = t;
  r = 0;
 out:
  img_internal_ext_inode_free (&in);
  return r;
}

struct readdir_state {
  struct img_dirent *ents;
  size_t n, cap;
  bool filetype;
  uint64_t max;                 /* entries allowed (the context's budget) */
  int err;                      /* -ENOMEM, -EUCLEAN or -E2BIG */
};

static int
readdir_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
            int offset, int blocksize, char *buf, void *priv)
{
  struct readdir_state *st = priv;
  int len = ext2fs_dirent_name_len (dirent);
  struct img_dirent *d;

  if ((len == 1 && dirent->name[0] == '.')
      || (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
    return 0;
  /* A name with '/' or NUL in it would be read back as another path. */
  if (len == 0 || memchr (dirent->name, '/', len)
      || memchr (dirent->name, '\0', len)) {
    st->err = -EUCLEAN;
    return DIRENT_ABORT;
  }
  if (st->n >= st->max) {
    st->err = -E2BIG;
    return DIRENT_ABORT;
  }
  if (st->n == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 64;
    struct img_dirent *ents = realloc (st->ents, cap * sizeof *ents);
    if (ents == NULL) {
      st->err = -ENOMEM;
      return DIRENT_ABORT;
    }
    st->ents = ents;
    st->cap = cap;
  }
  d = &st->ents[st->n];
  d->name = strndup (dirent->name, len);
  if (d->name == NULL) {
    st->err = -ENOMEM;
    return DIRENT_ABORT;
  }
  d->ino = dirent->inode;
  d->type = st->filetype
    ? img_internal_ext_ftype_to_dtype (ext2fs_dirent_file_type (dirent))
    : DT_UNKNOWN;
  st->n++;
  return 0;
}

int
img_internal_ext_readdir (struct img_fs *fs, const struct img_fs_path *p,
                          struct img_dirent **ents, size_t *n)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct readdir_state st = {
    .filetype = ext2fs_has_feature_filetype (e->fs->super),
    .max = img_ctx_budget (fs->ctx, IMG_BUDGET_ENTRIES),
  };
  struct ext2_inode inode;
  ext2_ino_t dir, ino;
  errcode_t err;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  err = ext2fs_read_inode (e->fs, ino, &inode);
  if (err)
    return img_internal_ext_fail (e, p->path, "reading an inode", err);
  if (!LINUX_S_ISDIR (inode.i_mode))
    return img_internal_ext_errno_msg (e, p->path, -ENOTDIR);
  if (inode.i_flags & EXT4_ENCRYPT_FL)
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: %s: the directory is encrypted", e->base.name,
                    e->base.type, p->path);
  err = ext2fs_dir_iterate2 (e->fs, ino, 0, NULL, readdir_cb, &st);
  if (err == 0 && st.err == -EUCLEAN)
    r = img_err (e->base.ctx, -EUCLEAN,
                 "%s: %s: %s: the directory has an entry with an invalid name (empty, or with '/' or NUL in it)",
                 e->base.name, e->base.type, p->path);
  else if (err == 0 && st.err == -E2BIG)
    r = -E2BIG;                 /* img_fs_readdir says which budget */
  else if (err == 0 && st.err)
    r = img_err (e->base.ctx, st.err, "%s: %s: out of memory", e->base.name,
                 e->base.type);
  else if (err)
    r = img_internal_ext_fail (e, p->path, "reading the directory", err);
  if (r < 0) {
    img_dirents_free (st.ents, st.n);
    return r;
  }
  *ents = st.ents;
  *n = st.n;
  return 0;
}

int
img_internal_ext_pread (struct img_fs *fs, const struct img_fs_path *p,
                        void *buf, size_t len, uint64_t off, size_t *got)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_open_regular (e, p, &in);
  if (r < 0)
    return r;
  if (in.i->i_flags & EXT4_ENCRYPT_FL)
    r = img_err (e->base.ctx, -EOPNOTSUPP,
                 "%s: %s: %s: the file is encrypted", e->base.name,
                 e->base.type, p->path);
  else
    r = read_data (e, p->path, &in, buf, len, off, got);
  img_internal_ext_inode_free (&in);
  return r;
}

/* The inode table read in order, a MiB at a time: far fewer reads than a
 * walk's readdir of every directory and lookup of every name.  The
 * reserved inodes (journal, resize, quota...) and inodes of large
 * extended attributes hold nothing a copy of the tree would; the root
 * directory is the one reserved inode that counts.  An inode the scan
 * cannot vouch for (a bad checksum, garbage) makes the answer -ENOTSUP:
 * the caller walks the tree instead, which reads only what has a name. */
int
img_internal_ext_usage (struct img_fs *fs, uint64_t *bytes)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext2_super_block *sb = e->fs->super;
  ext2_inode_scan scan;
  struct ext2_inode_large in;
  ext2_ino_t ino;
  uint64_t total = 0, scanned = 0;
  char where[1200];
  errcode_t err;
  int r = 0;

  img_internal_ext_io_reset (e);
  *bytes = 0;
  snprintf (where, sizeof where, "%s: %s: the inode table", e->base.name, e->base.type);
  err = ext2fs_open_inode_scan (e->fs, (int) ((1u << 20) / e->fs->blocksize), &scan);
  if (err)
    return img_internal_ext_fail (e, NULL, "scanning the inode table", err);
  for (;;) {
    err = ext2fs_get_next_inode_full (scan, &ino, (struct ext2_inode *) &in, sizeof in);
    if (err == EXT2_ET_INODE_CSUM_INVALID || err == EXT2_ET_INODE_IS_GARBAGE) {
      img_dbg (e->base.ctx, "%s: %s: inode %u: %s; sizing by a walk", e->base.name,
               e->base.type, (unsigned) ino, error_message (err));
      r = -ENOTSUP;
      break;
    }
    if (err) {
      r = img_internal_ext_fail (e, NULL, "scanning the inode table", err);
      break;
    }
    /* Each inode read is an entry walked, as a directory entry is to
     * the walk this replaces (IMG_BUDGET_ENTRIES_TOTAL). */
    if (ino == 0 || ++scanned == 4096) {
      r = img_internal_budget_charge (e->base.ctx, IMG_BUDGET_ENTRIES_TOTAL, scanned, where);
      scanned = 0;
      if (r < 0 || ino == 0)
        break;
    }
    if ((ino < EXT2_FIRST_INODE (sb) && ino != EXT2_ROOT_INO) || in.i_links_count == 0
        || ino == sb->s_journal_inum || ino == sb->s_orphan_file_inum
        || (in.i_flags & EXT4_EA_INODE_FL))
      continue;
    if (LINUX_S_ISREG (in.i_mode))
      total += ext2fs_get_stat_i_blocks (e->fs, (struct ext2_inode *) &in) * 512;
    else
      total += 4096;
  }
  ext2fs_close_inode_scan (scan);
  if (r == 0)
    *bytes = total;
  return r;
}

/* Extended attributes through libext2fs.  Its iterator hands out values
 * as stored, POSIX ACLs in ext4's own format; ext2fs_xattr_get turns
 * those into the kernel's xattr format (version 2), which is what a
 * setxattr elsewhere accepts.  So: names first, then each value. */
struct ext_xattr_names {
  char **v;
  size_t n;
  int rc;
};

static int
ext_xattr_name (char *name, char *value, size_t len, void *data)
{
  struct ext_xattr_names *w = data;
  char **nv;

  (void) value;
  (void) len;
  nv = realloc (w->v, (w->n + 1) * sizeof *nv);
  if (nv == NULL || (nv[w->n] = strdup (name)) == NULL) {
    if (nv)
      w->v = nv;
    w->rc = -ENOMEM;
    return XATTR_ABORT;
  }
  w->v = nv;
  w->n++;
  return 0;
}

int
img_internal_ext_xattrs (struct img_fs *fs, const struct img_fs_path *p,
                         img_xattr_fn fn, void *data)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_xattr_names w = { NULL, 0, 0 };
  struct ext2_xattr_handle *h = NULL;
  ext2_ino_t dir, ino;
  errcode_t err;
  size_t i;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  err = ext2fs_xattrs_open (e->fs, ino, &h);
  if (err == 0)
    err = ext2fs_xattrs_read (h);
  if (err == 0)
    err = ext2fs_xattrs_iterate (h, ext_xattr_name, &w);
  r = w.rc;
  for (i = 0; err == 0 && r == 0 && i < w.n; i++) {
    void *val = NULL;
    size_t len = 0;
    err = ext2fs_xattr_get (h, w.v[i], &val, &len);
    if (err == 0)
      r = fn (w.v[i], val, len, data);
    if (val)
      ext2fs_free_mem (&val);
  }
  for (i = 0; i < w.n; i++)
    free (w.v[i]);
  free (w.v);
  if (h)
    ext2fs_xattrs_close (&h);
  if (err)
    return img_err (e->base.ctx, -EIO, "%s: %s: %s: extended attributes: %s",
                    e->base.name, e->base.type, p->path, error_message (err));
  return r;
}
