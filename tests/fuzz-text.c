/* Fuzz target for the text parsers over guest files: bootloader configs
 * (GRUB 2, GRUB legacy, BLS, extlinux), fstab, release files, modules.dep
 * and modules.builtin, shell-style KEY=VALUE configs (os-release,
 * /etc/default/grub, /etc/sysconfig/kernel, dracut.conf.d, initramfs-tools
 * modules lists), udev persistent-net rules, ifcfg files and grubenv
 * variables expanded in BLS lines.
 *
 * Built as is, it is a replay program: "fuzz-text TARGET FILE..." runs each
 * file through TARGET's parser and prints a one-line summary, so the corpus
 * (tests/fuzz/text-corpus/TARGET) runs under make check.  Built with
 * -DIMG_FUZZ_LIBFUZZER -DFUZZ_TARGET='"grub2"' and -fsanitize=fuzzer it is
 * the libFuzzer target for one parser.  The input is handed over in a
 * buffer of exactly its size, not terminated, so a read past the length
 * the parser was given is an ASan report.  Besides crashes, a broken
 * invariant (an error without a message, a count past its bound, an
 * output offset outside the input, a malformed MAC) aborts. */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg.h"
#include "text/text-private.h"
#include "fuzz.h"

/* The release files the "release" target chooses from with its first byte.
 * Fifteen of them: the first nine keep the indexes the corpus was made
 * with ('5', 53 % 15 == 53 % 9, still picks debian_version). */
static const char *const release_files[] = {
  "/etc/os-release", "/usr/lib/os-release", "/etc/redhat-release", "/etc/centos-release",
  "/etc/fedora-release", "/etc/system-release", "/etc/SuSE-release", "/etc/lsb-release",
  "/etc/debian_version", "/etc/arch-release", "/etc/alpine-release", "/etc/gentoo-release",
  "/etc/rocky-release", "/etc/almalinux-release", "/etc/oracle-release",
};

/* Keys looked up by the "textconf" target: what the tools ask for. */
static const char *const conf_keys[] = {
  "ID", "ID_LIKE", "NAME", "PRETTY_NAME", "VERSION_ID", "VERSION_CODENAME",
  "GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_TERMINAL", "GRUB_DEFAULT",
  "INITRD_MODULES", "add_drivers", "SELINUX", "HOSTNAME", "HWADDR", "DEVICE",
  "VERSION ", "PATCHLEVEL ",
};

/* Module names the modules-dep target asks the closure of. */
static const char *const mod_names[] = { "xen-blkfront", "xen_netfront", "ext4", "a" };

/* A result string: NULL or terminated (strlen runs off the end under ASan
 * otherwise) and no longer than the input it came from. */
static size_t
check_str (const char *s, size_t len)
{
  size_t l;

  if (s == NULL)
    return 0;
  l = strlen (s);
  CHECK (l <= len);
  return l;
}

static void
check_mac (const char *mac)
{
  size_t i;

  CHECK (strlen (mac) == 17);
  for (i = 0; i < 17; i++)
    CHECK (i % 3 == 2 ? mac[i] == ':' : strchr ("0123456789abcdefABCDEF", mac[i]) != NULL);
}

static void
run_bootcfg (struct img_ctx *ctx, enum img_boot_kind kind, const char *text, size_t len,
             FILE *out)
{
  struct img_boot_entry *e = NULL;
  size_t n = 0, i, total = 0;
  int def = -7, r;

  r = img_bootcfg_parse (ctx, kind, text, len, &e, &n, &def);
  if (r < 0) {
    check_error (ctx, r);
    if (out)
      fprintf (out, "error: %s", img_ctx_error (ctx));
    return;
  }
  CHECK (n <= 1024);
  CHECK (def >= -1);
  CHECK (n == 0 || e != NULL);
  for (i = 0; i < n; i++) {
    CHECK (e[i].kind == kind);
    CHECK (e[i].depth >= 0 && e[i].line >= 1);
    total += check_str (e[i].title, len) + check_str (e[i].id, len) + check_str (e[i].kernel, len)
             + check_str (e[i].initrd, len) + check_str (e[i].args, len) + check_str (e[i].root, len);
  }
  if (out) {
    fprintf (out, "%zu entries, default %d", n, def);
    for (i = 0; i < n && i < 8; i++)
      fprintf (out, "; %s=%s", e[i].title ? e[i].title : "-", e[i].kernel ? e[i].kernel : "-");
  }
  img_boot_entries_free (e, n);
  (void) total;
}

static void
run_fstab (struct img_ctx *ctx, const char *text, size_t len, FILE *out)
{
  struct img_fstab_entry *e = NULL;
  size_t n = 0, i;
  int r = img_fstab_parse (ctx, text, len, &e, &n);

  if (r < 0) {
    check_error (ctx, r);
    if (out)
      fprintf (out, "error: %s", img_ctx_error (ctx));
    return;
  }
  CHECK (n <= 4096);
  for (i = 0; i < n; i++) {
    CHECK (e[i].spec && e[i].file && e[i].vfstype && e[i].options);
    CHECK (e[i].spec[0] && e[i].file[0]);
    check_str (e[i].spec, len);
    check_str (e[i].file, len);
    check_str (e[i].vfstype, len + 4);
    check_str (e[i].options, len + 8);
    CHECK (e[i].freq >= 0 && e[i].passno >= 0);
    CHECK (i == 0 || e[i].line > e[i - 1].line);
  }
  if (out) {
    fprintf (out, "%zu entries", n);
    for (i = 0; i < n && i < 8; i++)
      fprintf (out, "; %s %s %s", e[i].spec, e[i].file, e[i].vfstype);
  }
  img_fstab_free (e, n);
}

static void
run_release (const char *text, size_t len, FILE *out)
{
  struct img_inspection in;
  const char *file;
  int r;

  if (len == 0)
    return;
  file = release_files[(unsigned char) text[0] % (sizeof release_files / sizeof *release_files)];
  memset (&in, 0, sizeof in);
  r = img_release_parse (file, text + 1, len - 1, &in);
  CHECK (r == 0 || r == -ENOENT || r == -ENOMEM);
  CHECK (r != 0 || (in.os_source && strcmp (in.os_source, file) == 0));
  /* Names from a table ("debian", "Debian GNU/Linux") may be longer than
   * the text; SuSE's VERSION.PATCHLEVEL adds a dot. */
  check_str (in.os_id, len + 16);
  check_str (in.os_id_like, len);
  check_str (in.os_name, len + 24);
  check_str (in.os_pretty_name, len);
  check_str (in.os_version_id, len + 1);
  check_str (in.os_codename, len);
  check_str (in.distro, len + 16);
  CHECK (in.major_version >= -1 && in.minor_version >= -1);
  CHECK ((in.major_version < 0) == (in.minor_version < 0));
  if (out)
    fprintf (out, "%s: %s id=%s version=%s name=%s distro=%s %d.%d", file,
             r == 0 ? "ok" : "nothing", in.os_id ? in.os_id : "-",
             in.os_version_id ? in.os_version_id : "-",
             in.os_pretty_name ? in.os_pretty_name : "-", in.distro ? in.distro : "-",
             in.major_version, in.minor_version);
  free (in.os_id);
  free (in.os_id_like);
  free (in.os_name);
  free (in.os_pretty_name);
  free (in.os_version_id);
  free (in.os_codename);
  free (in.os_source);
  free (in.distro);
}

static void
run_kmod (struct img_ctx *ctx, bool builtin, const char *text, size_t len, FILE *out)
{
  static const char dep[] = "kernel/drivers/block/xen-blkfront.ko: kernel/a.ko\nkernel/a.ko:\n";
  struct img_kmod *km = NULL;
  const char **paths = NULL;
  size_t n_paths = 0, i, found = 0;
  int r;

  if (builtin)
    r = img_kmod_parse (ctx, "modules.dep", dep, sizeof dep - 1, text, len, &km);
  else
    r = img_kmod_parse (ctx, "modules.dep", text, len, NULL, 0, &km);
  if (r < 0) {
    check_error (ctx, r);
    CHECK (km == NULL);
    if (out)
      fprintf (out, "error: %s", img_ctx_error (ctx));
    return;
  }
  CHECK (km != NULL);
  for (i = 0; i < sizeof mod_names / sizeof *mod_names; i++) {
    const char *f = img_kmod_find (km, mod_names[i]);
    bool b = img_kmod_builtin (km, mod_names[i]);
    if (f)
      check_str (f, len + sizeof dep);
    found += (f != NULL) + b;
    r = img_kmod_closure (km, &mod_names[i], 1, &paths, &n_paths);
    if (r < 0) {
      check_error (ctx, r);
      CHECK (f == NULL || r == -ELOOP);
      img_ctx_clear_error (ctx);
      continue;
    }
    CHECK (f != NULL && n_paths >= 1);
    CHECK (strcmp (paths[n_paths - 1], f) == 0);
    free (paths);
  }
  if (out)
    fprintf (out, "%zu of %zu known", found, sizeof mod_names / sizeof *mod_names);
  img_kmod_free (km);
}

static void
run_textconf (const char *text, size_t len, FILE *out)
{
  size_t i, hits = 0;

  for (i = 0; i < sizeof conf_keys / sizeof *conf_keys; i++) {
    char *v = NULL;
    size_t ls = (size_t) -1, le = (size_t) -1;
    int r = img_textconf_get (text, len, conf_keys[i], &v, &ls, &le);
    CHECK (r == 0 || r == -ENOENT || r == -ENOMEM);
    if (r == 0) {
      CHECK (v != NULL);
      CHECK (ls <= le && le <= len);
      CHECK (le == len || text[le] == '\n');
      CHECK (ls == 0 || text[ls - 1] == '\n');
      CHECK (check_str (v, len) <= le - ls);
      hits++;
      if (out)
        fprintf (out, "%s=[%s] ", conf_keys[i], v);
    }
    else
      CHECK (v == NULL);
    free (v);
  }
  for (i = 0; i < sizeof mod_names / sizeof *mod_names; i++)
    if (img_textconf_has_line (text, len, mod_names[i])) {
      CHECK (memmem (text, len, mod_names[i], strlen (mod_names[i])) != NULL);
      if (out)
        fprintf (out, "line %s ", mod_names[i]);
    }
  if (out)
    fprintf (out, "%zu keys", hits);
}

static void
run_udev (const char *text, size_t len, FILE *out)
{
  char mac[18];
  int r = img_netrules_mac (text, len, mac);

  CHECK (r == 0 || r == -ENOENT);
  if (r == 0)
    check_mac (mac);
  if (out)
    fprintf (out, "mac %s", r == 0 ? mac : "-");
}

/* grubenv: the bytes before the first NUL are a grubenv block, those
 * after it a BLS line blscfg expands with it. */
static void
run_grubenv (const char *text, size_t len, FILE *out)
{
  static const char *const keys[] = { "kernelopts", "saved_entry", "tuned_params" };
  const char *nul = memchr (text, '\0', len);
  size_t env_len = nul ? (size_t) (nul - text) : len, i;
  char *line = NULL, *v = NULL, *x = NULL;
  int r;

  for (i = 0; i < sizeof keys / sizeof *keys; i++) {
    r = img_internal_grubenv_get (text, env_len, keys[i], &v);
    CHECK (r == 0 || r == -ENOENT || r == -ENOMEM);
    CHECK (r != 0 || v != NULL);
    check_str (v, env_len);
    if (out && r == 0 && i == 0)
      fprintf (out, "%s=[%s] ", keys[i], v);
    free (v);
    v = NULL;
  }
  if (nul == NULL)
    return;
  line = strndup (nul + 1, len - env_len - 1);
  if (line == NULL)
    abort ();
  r = img_internal_grubenv_expand (text, env_len, line, &x);
  CHECK (r == 0 || r == -ENOMEM || r == -E2BIG);
  CHECK (r != 0 || x != NULL);
  /* A command line is at most 4096 bytes: E2BIG beyond that. */
  CHECK (r != 0 || strlen (x) <= 4096);
  if (out)
    fprintf (out, r == 0 ? "expanded=[%s]" : "expand: %s", r == 0 ? x : strerror (-r));
  free (x);
  free (line);
}

static void
run_ifcfg (const char *text, size_t len, FILE *out)
{
  size_t pos = 0, macs = 0, bad = 0;

  while (pos < len) {
    const char *nl = memchr (text + pos, '\n', len - pos);
    size_t ll = nl ? (size_t) (nl - text - pos) : len - pos;
    char mac[18];
    int r = img_ifcfg_hwaddr (text + pos, ll, mac);
    CHECK (r == 0 || r == -ENOENT || r == -EINVAL);
    if (r == 0) {
      check_mac (mac);
      macs++;
    }
    bad += r == -EINVAL;
    pos += ll + (nl != NULL);
  }
  if (out)
    fprintf (out, "%zu hwaddr, %zu malformed; ", macs, bad);
  run_textconf (text, len, out);
}

/* Runs TARGET's parser on DATA (SIZE bytes); false if there is no TARGET. */
static bool
run (const char *target, const uint8_t *data, size_t size, FILE *out)
{
  struct img_ctx *ctx;
  char *text = malloc (size ? size : 1);   /* exactly SIZE: not terminated */
  bool known = true;

  if (text == NULL || img_ctx_new (&ctx) < 0)
    abort ();
  if (size)
    memcpy (text, data, size);
  img_ctx_set_log_fn (ctx, quiet, NULL);
  if (strcmp (target, "grub2") == 0)
    run_bootcfg (ctx, IMG_BOOT_GRUB2, text, size, out);
  else if (strcmp (target, "grub-legacy") == 0)
    run_bootcfg (ctx, IMG_BOOT_GRUB_LEGACY, text, size, out);
  else if (strcmp (target, "bls") == 0)
    run_bootcfg (ctx, IMG_BOOT_BLS, text, size, out);
  else if (strcmp (target, "extlinux") == 0)
    run_bootcfg (ctx, IMG_BOOT_EXTLINUX, text, size, out);
  else if (strcmp (target, "fstab") == 0)
    run_fstab (ctx, text, size, out);
  else if (strcmp (target, "release") == 0)
    run_release (text, size, out);
  else if (strcmp (target, "modules-dep") == 0)
    run_kmod (ctx, false, text, size, out);
  else if (strcmp (target, "modules-builtin") == 0)
    run_kmod (ctx, true, text, size, out);
  else if (strcmp (target, "textconf") == 0)
    run_textconf (text, size, out);
  else if (strcmp (target, "udev-rules") == 0)
    run_udev (text, size, out);
  else if (strcmp (target, "ifcfg") == 0)
    run_ifcfg (text, size, out);
  else if (strcmp (target, "grubenv") == 0)
    run_grubenv (text, size, out);
  else
    known = false;
  img_ctx_free (ctx);
  free (text);
  return known;
}

#ifdef IMG_FUZZ_LIBFUZZER

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (!run (FUZZ_TARGET, data, size, NULL))
    abort ();
  return 0;
}

#else

int
main (int argc, char **argv)
{
  int i;

  if (argc < 2) {
    fprintf (stderr, "usage: fuzz-text TARGET FILE...\n");
    return 2;
  }
  for (i = 2; i < argc; i++) {
    FILE *f = fopen (argv[i], "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL) {
      perror (argv[i]);
      return 1;
    }
    for (;;) {
      if (len == cap) {
        cap = cap ? cap * 2 : 65536;
        if ((buf = realloc (buf, cap)) == NULL)
          abort ();
      }
      n = fread (buf + len, 1, cap - len, f);
      if (n == 0)
        break;
      len += n;
    }
    fclose (f);
    printf ("%s: ", argv[i]);
    if (!run (argv[1], buf, len, stdout)) {
      fprintf (stderr, "fuzz-text: no target %s\n", argv[1]);
      free (buf);
      return 2;
    }
    printf ("\n");
    free (buf);
  }
  return 0;
}

#endif
