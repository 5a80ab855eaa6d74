#!/bin/bash
# The hostile-image corpus.  Every builder tests/hostile/mk-CLASS.sh lays
# out its cases (images and a NAME.case file each, see tests/hostile/README);
# each case runs the tool it names under strace -f with a canary directory
# on the host, and must end in one error line or a safe success with:
#   - nothing under the canary directory touched by any syscall, and the
#     canary unchanged; no socket but our private qemu-nbd one; no program
#     run but qemu-img, qemu-nbd (and depmod, for img2pv);
#   - no crash, no sanitizer report, peak RSS at most 512 MiB;
#   - images untouched by an error or a --dry-run.
. "$top_srcdir/tests/functions.sh"
requires_root; requires strace; requires /usr/bin/time; requires sha1sum
requires qemu-img; requires mke2fs

RSS_LIMIT_KB=$((512 * 1024))
canary=$(mktemp -d /tmp/img-hostile-canary.XXXXXX)
at_exit "rm -rf '$canary'"
echo "host secret $RANDOM$RANDOM" > "$canary/secret"
chmod 600 "$canary/secret"
canary_sum=$(cd "$canary" && ls -lA --time-style=+ | sha1sum; sha1sum secret)
export HOSTILE_CANARY=$canary

only=${HOSTILE_ONLY:-}          # HOSTILE_ONLY=CLASS runs one builder's cases

# trace_problems TRACE TOOL: what the trace shows that a case may not do.
trace_problems () {
    local t=$1 tool=$2
    grep -F -- "$canary" "$t" | head -3 | sed 's/^/touches the canary: /'
    grep -E '\<socket\((AF_INET|AF_INET6|AF_PACKET|AF_NETLINK)' "$t" | head -3 | sed 's/^/network socket: /'
    grep -E '\<connect\(' "$t" | grep -v -- '= -1 ENOENT' | grep -vE 'sun_path="[^"]*/img-nbd-[^"]*/sock"' \
        | head -3 | sed 's/^/connect: /'
    grep -E '\<execve\(' "$t" | grep -v ' = -1 ' \
        | grep -vE "execve\(\"[^\"]*/(qemu-img|qemu-nbd|$tool|lt-$tool)\"" \
        | { if [ "$tool" = img2pv ]; then grep -vE 'execve\("[^"]*/depmod"'; else cat; fi; } \
        | head -3 | sed 's/^/runs: /'
}

n_cases=0
for builder in "$top_srcdir"/tests/hostile/mk-*.sh; do
    [ -e "$builder" ] || continue
    class=$(basename "$builder" .sh); class=${class#mk-}
    [ -z "$only" ] || [ "$only" = "$class" ] || continue
    out=$TMP/$class
    mkdir -p "$out"
    if ! (cd "$out" && bash "$builder" "$out") > "$TMP/$class.build.log" 2>&1; then
        ok 1 "$class: the builder runs"
        diag "$(tail -20 "$TMP/$class.build.log")"
        continue
    fi
    for case_file in "$out"/*.case; do
        [ -e "$case_file" ] || { ok 1 "$class: the builder made no case"; break; }
        name=$(basename "$case_file" .case)
        tool=; args=(); images=(); expect=; match=
        # shellcheck disable=SC1090
        . "$case_file"
        n_cases=$((n_cases + 1))
        id="$class/$name: $tool ${args[*]}"
        bin=$top_builddir/src/$tool
        [ -x "$bin" ] || { ok 1 "$id: no such tool"; continue; }
        # In the build tree src/TOOL is libtool's wrapper script (it runs
        # sed, ls...): trace the real program against the uninstalled
        # libimg.so instead, so that every exec in the trace is the tool's.
        libdir=
        if [ -x "$top_builddir/src/.libs/$tool" ]; then
            bin=$top_builddir/src/.libs/$tool
            libdir=$top_builddir/src/libimg/.libs
        fi
        before=$(cd "$out" && sha1sum -- "${images[@]}" 2>/dev/null)
        listing=$(cd "$out" && ls -A)
        tr=$TMP/trace.$class.$name; rss=$TMP/rss.$class.$name
        # LeakSanitizer cannot run under ptrace; ASan and UBSan still do.
        (cd "$out" && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
             && { [ -z "$libdir" ] || export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; } \
             && timeout -k 10 300 /usr/bin/time -f %M -o "$rss" \
             strace -f -qq -s 256 -o "$tr" \
             -e trace=%file,%network,%process "$bin" "${args[@]}" "${images[@]}") \
            > "$TMP/stdout" 2> "$TMP/stderr"
        rc=$?
        why=()
        err=$(cat "$TMP/stderr")
        lines=$(grep -c . "$TMP/stderr")
        if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault' "$TMP/stderr"; then
            why+=("sanitizer report or crash")
        fi
        case $expect in
        error)
            [ "$rc" -eq 1 ] || why+=("exit $rc, wanted 1")
            [ "$lines" -eq 1 ] || why+=("$lines stderr lines, wanted 1")
            grep -Eq -- "$match" "$TMP/stderr" || why+=("stderr does not match /$match/")
            ;;
        ok)
            [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || why+=("exit $rc, wanted 0 or 3")
            ;;
        *) why+=("bad case file: expect='$expect'") ;;
        esac
        peak=$(tail -1 "$rss" 2>/dev/null)
        case $peak in
        ''|*[!0-9]*) why+=("no peak RSS measured") ;;
        *) [ "$peak" -le $RSS_LIMIT_KB ] || why+=("peak RSS ${peak} KiB > $RSS_LIMIT_KB KiB") ;;
        esac
        problems=$(trace_problems "$tr" "$tool")
        [ -z "$problems" ] || why+=("$problems")
        [ "$(cd "$canary" && ls -lA --time-style=+ | sha1sum; sha1sum secret)" = "$canary_sum" ] \
            || why+=("the canary directory changed")
        if [ "$expect" = error ] || [[ " ${args[*]} " == *" --dry-run "* ]]; then
            [ "$(cd "$out" && sha1sum -- "${images[@]}" 2>/dev/null)" = "$before" ] \
                || why+=("an image changed")
        fi
        if [[ " ${args[*]} " == *" --dry-run "* ]]; then
            [ "$(cd "$out" && ls -A)" = "$listing" ] || why+=("a dry run left files beside the image")
        fi
        if [ ${#why[@]} -eq 0 ]; then
            ok 0 "$id"
        else
            ok 1 "$id"
            diag "${why[@]}" "exit $rc; stderr:" "$(head -5 <<< "$err")"
        fi
        rm -f "$tr"
    done
done
[ "$n_cases" -gt 0 ] || bail "no hostile case was built"
done_testing
