/* A Windows guest recognised, to be reported and refused by name: its
 * system root found on an NTFS volume (case-insensitively, as Windows
 * names it), the architecture from the PE header of cmd.exe, and from
 * the registry (read by the appliance's hivex, never on the host) the
 * product, version, variant and hostname -- the facts virt-inspector
 * gives for it. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/stat.h>

#include "appliance/appliance.h"
#include "fs/fs-private.h"
#include "guest/guest-private.h"

/* Where Windows keeps its system root (%SystemRoot%), as virt-inspector
 * looks for it. */
static const char *const systemroots[] = {
  "windows", "winnt", "win32", "win", "reactos",
};

/* Registry strings kept, at most (a product name is some 40 bytes). */
#define MAX_VALUE 256
/* Bytes of cmd.exe read for its headers. */
#define PE_HEAD 4096

/* The entry of directory DIR named NAME in any case, of type TYPE
 * (DT_DIR, DT_REG): its path (malloc'd), NULL when none. */
static char *
find_nocase (struct img_fs *fs, const char *dir, const char *name,
             unsigned char type)
{
  struct img_dirent *ents;
  size_t n, i;
  char *path = NULL;

  if (img_fs_readdir (fs, dir, &ents, &n) < 0) {
    img_ctx_clear_error (fs->ctx);
    return NULL;
  }
  for (i = 0; i < n && path == NULL; i++) {
    struct img_stat st;
    char *p;

    if (strcasecmp (ents[i].name, name) != 0)
      continue;
    if (asprintf (&p, "%s/%s", strcmp (dir, "/") == 0 ? "" : dir, ents[i].name) < 0)
      break;
    if (img_fs_lstat (fs, p, &st) == 0
        && (type == DT_DIR ? S_ISDIR (st.mode) : S_ISREG (st.mode)))
      path = p;
    else
      free (p);
  }
  img_ctx_clear_error (fs->ctx);
  img_dirents_free (ents, n);
  return path;
}

static uint32_t
le (const unsigned char *b, size_t n)
{
  uint32_t v = 0;

  while (n-- > 0)
    v = v << 8 | b[n];
  return v;
}

/* The architecture of the PE image whose first LEN bytes are B, in
 * virt-inspector's words, or NULL. */
static const char *
pe_arch (const unsigned char *b, size_t len)
{
  static const struct { uint16_t machine; const char *arch; } machines[] = {
    { 0x014c, "i386" }, { 0x8664, "x86_64" }, { 0xaa64, "aarch64" },
    { 0x01c4, "arm" }, { 0x0200, "ia64" },
  };
  uint32_t off;
  size_t i;

  if (len < 0x40 || b[0] != 'M' || b[1] != 'Z')
    return NULL;
  off = le (b + 0x3c, 4);
  if (off > len - 6 || memcmp (b + off, "PE\0\0", 4) != 0)
    return NULL;
  for (i = 0; i < ARRAY_SIZE (machines); i++)
    if (machines[i].machine == le (b + off + 4, 2))
      return machines[i].arch;
  return NULL;
}

static int
read_arch (struct img_fs *fs, const char *cmd_exe, struct img_windows *w)
{
  unsigned char *b = malloc (PE_HEAD);
  size_t got = 0;
  const char *arch;

  if (b == NULL)
    return -ENOMEM;
  if (img_fs_pread (fs, cmd_exe, b, PE_HEAD, 0, &got) < 0) {
    img_dbg (fs->ctx, "%s", img_ctx_error (fs->ctx));
    img_ctx_clear_error (fs->ctx);
    got = 0;
  }
  arch = pe_arch (b, got);
  free (b);
  if (arch && (w->arch = strdup (arch)) == NULL)
    return -ENOMEM;
  return 0;
}

/* Opens HIVE (a path of FS) in the appliance; false when it cannot be
 * (a damaged hive only hides what it holds: said in debug). */
static bool
hive_open (struct img_fs *fs, const char *hive)
{
  if (hive && img_internal_gfs_hive_open (fs, hive) == 0)
    return true;
  if (hive)
    img_dbg (fs->ctx, "%s", img_ctx_error (fs->ctx));
  img_ctx_clear_error (fs->ctx);
  return false;
}

/* "6.1" as a version. */
static void
parse_version (const char *s, struct img_windows *w)
{
  char *end;
  long major = strtol (s, &end, 10), minor;

  if (end == s || *end != '.' || major < 0 || major > 1000)
    return;
  s = end + 1;
  minor = strtol (s, &end, 10);
  if (end == s || minor < 0 || minor > 1000)
    return;
  w->major_version = (int) major;
  w->minor_version = (int) minor;
}

static void
read_software (struct img_guest *g, struct img_windows *w)
{
  static const char *const cv[] = { "Microsoft", "Windows NT", "CurrentVersion", NULL };
  uint32_t major, minor;
  char *s;

  (void) img_internal_appliance_hive_string (g->ap, cv, "ProductName", MAX_VALUE,
                                             &w->product_name);
  (void) img_internal_appliance_hive_string (g->ap, cv, "InstallationType", MAX_VALUE,
                                             &w->product_variant);
  if (img_internal_appliance_hive_dword (g->ap, cv, "CurrentMajorVersionNumber", &major) == 0
      && img_internal_appliance_hive_dword (g->ap, cv, "CurrentMinorVersionNumber", &minor) == 0
      && major <= 1000 && minor <= 1000) {
    w->major_version = (int) major;
    w->minor_version = (int) minor;
  } else if (img_internal_appliance_hive_string (g->ap, cv, "CurrentVersion", 32, &s) == 0) {
    parse_version (s, w);
    free (s);
  }
}

static void
read_system (struct img_guest *g, struct img_windows *w)
{
  static const char *const sel[] = { "Select", NULL };
  char set[32];
  const char *tcpip[] = { set, "Services", "Tcpip", "Parameters", NULL };
  uint32_t current;

  if (img_internal_appliance_hive_dword (g->ap, sel, "Current", &current) < 0
      || current > 999)
    return;
  snprintf (set, sizeof set, "ControlSet%03u", (unsigned) current);
  (void) img_internal_appliance_hive_string (g->ap, tcpip, "Hostname", MAX_VALUE,
                                             &w->hostname);
}

/* The facts of the Windows whose system root is ROOT on FS. */
static int
read_windows (struct img_guest *g, struct img_fs *fs, const char *root,
              const char *cmd_exe, const char *config, struct img_windows *w)
{
  char *software = find_nocase (fs, config, "software", DT_REG);
  char *system = find_nocase (fs, config, "system", DT_REG);
  int r;

  w->major_version = w->minor_version = -1;
  w->systemroot = strdup (root);
  r = w->systemroot ? read_arch (fs, cmd_exe, w) : -ENOMEM;
  /* As virt-inspector: the registry is read when both hives are there. */
  if (r == 0 && software && system) {
    if (hive_open (fs, software)) {
      read_software (g, w);
      img_internal_appliance_hive_close (g->ap);
    }
    if (hive_open (fs, system)) {
      read_system (g, w);
      img_internal_appliance_hive_close (g->ap);
    }
  }
  free (software);
  free (system);
  return r;
}

/* 1 and *W when FS holds a Windows system root, 0 when not. */
static int
look_in (struct img_guest *g, struct img_fs *fs, struct img_windows *w)
{
  size_t i;
  int r = 0;

  for (i = 0; i < ARRAY_SIZE (systemroots) && r == 0; i++) {
    char *root = find_nocase (fs, "/", systemroots[i], DT_DIR);
    char *sys32 = root ? find_nocase (fs, root, "system32", DT_DIR) : NULL;
    char *config = sys32 ? find_nocase (fs, sys32, "config", DT_DIR) : NULL;
    char *cmd = sys32 ? find_nocase (fs, sys32, "cmd.exe", DT_REG) : NULL;

    /* A root with cmd.exe and the registry's folder, not just any
     * folder of that name (virt-inspector's test). */
    if (config && cmd) {
      r = read_windows (g, fs, root, cmd, config, w);
      if (r == 0)
        r = 1;
    }
    free (root);
    free (sys32);
    free (config);
    free (cmd);
  }
  return r;
}

static void
windows_free (struct img_windows *w)
{
  if (w == NULL)
    return;
  free (w->volume);
  free (w->systemroot);
  free (w->product_name);
  free (w->product_variant);
  free (w->arch);
  free (w->hostname);
  free (w);
}

void
img_internal_guest_free_windows (struct img_guest *g)
{
  windows_free (g->windows);
  g->windows = NULL;
}

/* Printable: a registry string may hold anything; the reason is one
 * line. */
static void
printable (char *s)
{
  for (; s && *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      *s = '?';
}

static int
say_why (struct img_guest *g, const struct img_windows *w)
{
  char *name = w->product_name ? strdup (w->product_name) : NULL, ver[32] = "";
  char *why;
  int r;

  printable (name);
  if (w->major_version >= 0)
    snprintf (ver, sizeof ver, " %d.%d", w->major_version, w->minor_version);
  r = asprintf (&why, "%s (ntfs): a Windows guest (%s%s, %s): not convertible, img-tools converts Linux guests",
                w->volume, name ? name : "product unknown", ver,
                w->arch ? w->arch : "arch unknown");
  free (name);
  if (r < 0)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  free (g->no_root_why);
  g->no_root_why = why;
  return 0;
}

int
img_internal_guest_find_windows (struct img_guest *g)
{
  size_t i;
  int r = 0;

  for (i = 0; i < g->n_volumes && g->windows == NULL && r >= 0; i++) {
    struct img_windows *w;
    struct img_fs *fs;

    if (strcmp (g->volumes[i].info.type, "ntfs") != 0
        || img_internal_guest_reader (g, (long) i) != IMG_GUEST_READER_APPLIANCE)
      continue;
    if (img_internal_guest_open_fs (g, (long) i, NULL, IMG_FS_RDONLY, &fs) < 0) {
      img_dbg (g->ctx, "%s", img_ctx_error (g->ctx));
      img_ctx_clear_error (g->ctx);
      continue;
    }
    w = calloc (1, sizeof *w);
    r = w ? look_in (g, fs, w) : -ENOMEM;
    img_fs_close (fs);
    if (r > 0 && (w->volume = strdup (g->volumes[i].vol->name)) == NULL)
      r = -ENOMEM;
    if (r > 0) {
      g->windows = w;
      r = say_why (g, w);
    } else
      windows_free (w);
  }
  if (r == -ENOMEM)
    return img_err (g->ctx, r, "guest: out of memory");
  return r < 0 ? r : 0;
}

const struct img_windows *
img_guest_windows (const struct img_guest *g)
{
  return g->windows;
}
