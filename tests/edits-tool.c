/* Test helper: drives the edits framework with a few demonstration edits,
 * as img2pv and img-ramify will.
 *   edits-tool [--dry-run] [--json] [--undo FILE] [--no-undo]
 *              [--backend B] [--key SPEC]... [--edits LIST] IMAGE...
 *   edits-tool --rollback FILE [--force] [IMAGE...]
 *   edits-tool --state FILE
 * LIST is comma-separated (default hostname,udev-net,fstab):
 *   hostname[=NAME]   write /etc/hostname
 *   udev-net          remove /etc/udev/rules.d/70-persistent-net.rules
 *   fstab             append a comment line to /etc/fstab once
 *   tls               move /lib/tls aside (or note its absence)
 *   link              /etc/edits-link -> hostname
 *   big=MIB           write /var/tmp/edits-big, MIB MiB of binary data
 *   many=N            write N small files under /var/tmp/edits-many
 *   chain             write /var/tmp/chain/a through img_guest_*
 *   chain-read        read it back (read_file, lstat, readdir) and write
 *                     /var/tmp/chain/b from it
 *   rm-check          after udev-net: the rules are gone for lstat and
 *                     readdir
 *   dir-move          rename /etc/udev to /etc/udev.moved, read under
 *                     the new name
 *   put=PATH          write PATH ("edits-tool\n"), any mount of the guest
 *   fail              fail on purpose
 * Exit codes are the framework's (edits.h: 0 changed, 1 error, 2 usage,
 * 3 nothing to do, 4 failed and not restored). */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "img-edit.h"
#include "tool.h"

static int
edit_hostname (struct img_plan *plan, void *data)
{
  const char *name = data;
  char buf[256];
  int n = snprintf (buf, sizeof buf, "%s\n", name);

  return img_guest_write_file (img_plan_guest (plan), "/etc/hostname", buf, n, 0644);
}

static int
edit_put (struct img_plan *plan, void *data)
{
  return img_guest_write_file (img_plan_guest (plan), data, "edits-tool\n", 11, 0644);
}

static int
edit_udev_net (struct img_plan *plan, void *data)
{
  const char *rules = "/etc/udev/rules.d/70-persistent-net.rules";

  if (!img_guest_exists (img_plan_guest (plan), rules))
    return img_plan_note (plan, "%s not present", rules);
  return img_guest_remove (img_plan_guest (plan), rules);
}

static int
edit_fstab (struct img_plan *plan, void *data)
{
  const char *line = "# edits-tool was here\n";
  void *buf;
  size_t len;
  char *nb;
  int r;

  r = img_guest_read_file (img_plan_guest (plan), "/etc/fstab", 1 << 20, &buf, &len);
  if (r < 0)
    return r;
  if (strstr (buf, line)) {
    free (buf);
    return 0;
  }
  nb = malloc (len + strlen (line) + 2);
  if (nb == NULL) {
    free (buf);
    return -ENOMEM;
  }
  memcpy (nb, buf, len);
  if (len && nb[len - 1] != '\n')
    nb[len++] = '\n';
  memcpy (nb + len, line, strlen (line));
  r = img_guest_write_file (img_plan_guest (plan), "/etc/fstab", nb, len + strlen (line), 0644);
  free (buf);
  free (nb);
  return r;
}

static int
edit_tls (struct img_plan *plan, void *data)
{
  if (!img_guest_exists (img_plan_guest (plan), "/lib/tls")) {
    if (img_guest_exists (img_plan_guest (plan), "/lib/tls.disabled"))
      return 0;
    return img_plan_note (plan, "/lib/tls not present");
  }
  return img_guest_rename (img_plan_guest (plan), "/lib/tls", "/lib/tls.disabled");
}

static int
edit_link (struct img_plan *plan, void *data)
{
  return img_guest_symlink (img_plan_guest (plan), "hostname", "/etc/edits-link");
}

static int
edit_big (struct img_plan *plan, void *data)
{
  size_t mib = (size_t) (uintptr_t) data, len = mib << 20, i;
  uint32_t x = 2463534242u;
  unsigned char *buf = malloc (len ? len : 1);
  int r;

  if (buf == NULL)
    return -ENOMEM;
  for (i = 0; i < len; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    buf[i] = (unsigned char) x;
  }
  r = img_guest_write_file (img_plan_guest (plan), "/var/tmp/edits-big", buf, len, 0600);
  free (buf);
  return r;
}

static int
edit_many (struct img_plan *plan, void *data)
{
  size_t n = (size_t) (uintptr_t) data, i;
  char path[64], text[64];
  int r;

  r = img_guest_mkdir_p (img_plan_guest (plan), "/var/tmp/edits-many", 0755);
  for (i = 0; i < n && r == 0; i++) {
    int len = snprintf (text, sizeof text, "file %zu\n", i);
    snprintf (path, sizeof path, "/var/tmp/edits-many/f%zu", i);
    r = img_guest_write_file (img_plan_guest (plan), path, text, len, 0644);
  }
  return r;
}

/* A failed check of what the guest shows: says which, fails the edit. */
static int
check (bool ok, const char *what)
{
  if (ok)
    return 0;
  fprintf (stderr, "edits-tool: check failed: %s\n", what);
  return -EIO;
}

static bool
listed (struct img_guest *g, const char *dir, const char *name)
{
  struct img_dirent *ents;
  size_t n, i;
  bool found = false;

  if (img_guest_readdir (g, dir, &ents, &n) < 0)
    return false;
  for (i = 0; i < n; i++)
    found |= strcmp (ents[i].name, name) == 0;
  img_dirents_free (ents, n);
  return found;
}

static int
edit_chain (struct img_plan *plan, void *data)
{
  struct img_guest *g = img_plan_guest (plan);
  int r = img_guest_mkdir_p (g, "/var/tmp/chain", 0755);

  return r < 0 ? r : img_guest_write_file (g, "/var/tmp/chain/a", "first\n", 6, 0644);
}

static int
edit_chain_read (struct img_plan *plan, void *data)
{
  struct img_guest *g = img_plan_guest (plan);
  struct img_stat st;
  char *buf, *nb;
  size_t len;
  int r;

  r = img_guest_read_file (g, "/var/tmp/chain/a", 4096, (void **) &buf, &len);
  if (r < 0)
    return r;
  r = check (len == 6 && memcmp (buf, "first\n", 6) == 0, "read_file sees the earlier write");
  if (r == 0)
    r = check (img_guest_lstat (g, "/var/tmp/chain/a", &st) == 0 && S_ISREG (st.mode)
               && st.size == 6, "lstat sees the earlier write");
  if (r == 0)
    r = check (listed (g, "/var/tmp/chain", "a") && listed (g, "/var/tmp", "chain"),
               "readdir sees the earlier write");
  if (r == 0 && (nb = malloc (len + 7)) != NULL) {
    memcpy (nb, buf, len);
    memcpy (nb + len, "second\n", 7);
    r = img_guest_write_file (img_plan_guest (plan), "/var/tmp/chain/b", nb, len + 7, 0644);
    free (nb);
  }
  free (buf);
  return r;
}

static int
edit_rm_check (struct img_plan *plan, void *data)
{
  struct img_guest *g = img_plan_guest (plan);
  struct img_stat st;
  int r;

  r = check (img_guest_lstat (g, "/etc/udev/rules.d/70-persistent-net.rules", &st) == -ENOENT,
             "lstat does not see the removed file");
  if (r == 0)
    r = check (!listed (g, "/etc/udev/rules.d", "70-persistent-net.rules")
               && listed (g, "/etc/udev", "rules.d"),
               "readdir does not list the removed file");
  return r;
}

static int
edit_dir_move (struct img_plan *plan, void *data)
{
  struct img_guest *g = img_plan_guest (plan);
  struct img_stat st;
  void *buf;
  size_t len;
  int r;

  if (!img_guest_exists (g, "/etc/udev.moved")
      && (r = img_guest_rename (g, "/etc/udev", "/etc/udev.moved")) < 0)
    return r;
  r = img_guest_read_file (g, "/etc/udev.moved/udev.conf", 1 << 20, &buf, &len);
  if (r < 0)
    return r;
  free (buf);
  r = check (img_guest_lstat (g, "/etc/udev", &st) == -ENOENT
             && img_guest_stat (g, "/etc/udev.moved/rules.d", &st) == 0 && S_ISDIR (st.mode),
             "lstat sees the directory under its new name only");
  if (r == 0)
    r = check (listed (g, "/etc", "udev.moved") && !listed (g, "/etc", "udev")
               && listed (g, "/etc/udev.moved", "udev.conf")
               && !listed (g, "/etc/udev.moved/rules.d", "70-persistent-net.rules"),
               "readdir sees the directory under its new name only");
  return r;
}

static int
edit_fail (struct img_plan *plan, void *data)
{
  fprintf (stderr, "edits-tool: edit 'fail' fails on purpose\n");
  return -EIO;
}

static const struct img_edit edits[] = {
  { "hostname", "set the host name", edit_hostname },
  { "udev-net", "remove udev persistent-net rules", edit_udev_net },
  { "fstab", "append a marker line to /etc/fstab", edit_fstab },
  { "tls", "move /lib/tls aside", edit_tls },
  { "link", "add /etc/edits-link", edit_link },
  { "big", "write a big binary file", edit_big },
  { "many", "write many small files", edit_many },
  { "chain", "write a file through the guest", edit_chain },
  { "chain-read", "read it back and write another", edit_chain_read },
  { "rm-check", "check that the removed rules are gone", edit_rm_check },
  { "dir-move", "move a directory and read under it", edit_dir_move },
  { "put", "write a file at a given path", edit_put },
  { "fail", "fail on purpose", edit_fail },
};

static void
usage (void)
{
  fprintf (stderr, "usage: edits-tool [--dry-run] [--json] [--undo FILE] [--no-undo] [--edits LIST] IMAGE...\n"
           "       edits-tool --rollback FILE [--force] [IMAGE...]\n"
           "       edits-tool --state FILE\n");
  exit (IMG_EXIT_USAGE);
}

static void
log_fn (void *data, int prio, const char *msg)
{
  fprintf (stderr, "edits-tool: %s%s\n", prio <= IMG_LOG_WARNING && prio > IMG_LOG_ERR ? "warning: " : "", msg);
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "dry-run", no_argument, NULL, 'n' },
    { "json", no_argument, NULL, 'j' },
    { "undo", required_argument, NULL, 'u' },
    { "no-undo", no_argument, NULL, 'U' },
    { "edits", required_argument, NULL, 'e' },
    { "rollback", required_argument, NULL, 'r' },
    { "state", required_argument, NULL, 's' },
    { "force", no_argument, NULL, 'f' },
    { "backend", required_argument, NULL, 'b' },
    { "key", required_argument, NULL, 'k' },
    { NULL, 0, NULL, 0 },
  };
  const char *keys[8];
  size_t n_keys = 0, k;
  enum img_fs_backend backend = IMG_FS_BACKEND_AUTO;
  const char *undo = NULL, *rollback = NULL, *state = NULL;
  char *list = strdup ("hostname,udev-net,fstab"), *tok, *save;
  bool json = false, force = false;
  unsigned flags = 0;
  struct img_ctx *ctx;
  struct img_plan *plan;
  int c, r, code;

  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c) {
    case 'n': flags |= IMG_PLAN_DRY_RUN; break;
    case 'j': json = true; break;
    case 'u': undo = optarg; break;
    case 'U': flags |= IMG_PLAN_NO_UNDO; break;
    case 'e': free (list); list = strdup (optarg); break;
    case 'r': rollback = optarg; break;
    case 's': state = optarg; break;
    case 'f': force = true; break;
    case 'b':
      if (img_fs_backend_parse (optarg, &backend) < 0) {
        fprintf (stderr, "edits-tool: --backend=%s: one of auto, native, guestfs\n", optarg);
        return IMG_EXIT_USAGE;
      }
      break;
    case 'k':
      if (n_keys == sizeof keys / sizeof keys[0])
        usage ();
      keys[n_keys++] = optarg;
      break;
    default: usage ();
    }
  if (list == NULL || img_ctx_new (&ctx) < 0)
    return IMG_EXIT_ERROR;
  img_ctx_set_log_fn (ctx, log_fn, NULL);
  img_ctx_set_fs_backend (ctx, backend);
  for (k = 0; k < n_keys; k++)
    if (img_ctx_add_key (ctx, keys[k]) < 0) {
      fprintf (stderr, "edits-tool: %s\n", img_ctx_error (ctx));
      img_ctx_free (ctx);
      return IMG_EXIT_USAGE;
    }
  {
    /* Test fixtures are often qcow2 overlays over the cached guests. */
    static const struct img_disk_opts allow = { NULL, true };
    img_ctx_set_disk_opts (ctx, &allow);
  }

  if (state) {
    int st;
    r = img_undo_state (ctx, state, &st);
    if (r < 0)
      fprintf (stderr, "edits-tool: %s\n", img_ctx_error (ctx));
    else
      printf ("%s\n", img_undo_state_name (st));
    code = r < 0 ? IMG_EXIT_ERROR : 0;
    goto out;
  }
  if (rollback) {
    r = img_undo_rollback (ctx, rollback,
                           optind < argc ? (const char *const *) argv + optind : NULL,
                           argc - optind, force ? IMG_UNDO_FORCE : 0);
    if (r < 0)
      fprintf (stderr, "edits-tool: %s\n", img_ctx_error (ctx));
    else
      printf (r == 1 ? "Nothing to roll back.\n" : "Rolled back.\n");
    code = r < 0 ? IMG_EXIT_ERROR : r == 1 ? IMG_EXIT_NOTHING : 0;
    goto out;
  }
  if (optind >= argc)
    usage ();

  r = img_plan_new (ctx, (const char *const *) argv + optind, argc - optind,
                    flags, undo, &plan);
  if (r < 0) {
    fprintf (stderr, "edits-tool: %s\n", img_ctx_error (ctx));
    code = IMG_EXIT_ERROR;
    goto out;
  }
  for (tok = strtok_r (list, ",", &save); tok; tok = strtok_r (NULL, ",", &save)) {
    char *arg = strchr (tok, '=');
    size_t i;
    void *data = NULL;

    if (arg)
      *arg++ = '\0';
    for (i = 0; i < sizeof edits / sizeof edits[0]; i++)
      if (strcmp (edits[i].name, tok) == 0)
        break;
    if (i == sizeof edits / sizeof edits[0]) {
      fprintf (stderr, "edits-tool: unknown edit '%s'\n", tok);
      img_plan_free (plan);
      code = IMG_EXIT_USAGE;
      goto out;
    }
    if (strcmp (tok, "hostname") == 0)
      data = arg ? arg : (char *) "edits-test";
    else if (strcmp (tok, "put") == 0)
      data = arg ? arg : (char *) "/var/tmp/edits-put";
    else if (strcmp (tok, "big") == 0 || strcmp (tok, "many") == 0)
      data = (void *) (uintptr_t) (arg ? strtoul (arg, NULL, 10) : 1);
    img_plan_add (plan, &edits[i], data);
  }

  r = img_plan_run (plan);
  if (json)
    img_plan_report_json (plan, stdout);
  else
    img_plan_report_text (plan, stdout);
  if (r < 0)
    fprintf (stderr, "edits-tool: %s\n", img_ctx_error (ctx));
  code = tool_exit_code (plan);
  img_plan_free (plan);
 out:
  img_ctx_free (ctx);
  free (list);
  return code;
}
