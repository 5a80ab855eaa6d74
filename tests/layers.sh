#!/bin/bash
# The library's floors, drawn from its #include lines: a file may include
# headers of its own floor or of floors below, never above; the public
# headers at the top of src/libimg include only public headers; and no
# library file is over 1,000 lines (issue F).
. "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

lib=$top_srcdir/src/libimg
[ -f "$lib/libimg.h" ] || bail "no src/libimg/libimg.h under $top_srcdir"

# Bottom up.  A folder's floor is its place in this list.
floors=(base disk volume appliance fs text initrd guest edit convert)
declare -A rank
for i in "${!floors[@]}"; do rank[${floors[$i]}]=$i; done

# The headers at the top of src/libimg, by floor.  Public headers not
# listed here (img-*.h) may be included from any floor; private.h and
# cleanup.h are the base floor's.
declare -A top_floor=(
    [libimg.h]=base
    [img-quote.h]=base
    [img-json.h]=base
    [private.h]=base
    [cleanup.h]=base
    [img-undo.h]=disk
    [img-edit.h]=edit
)

# Library files allowed over the line limit, each with the reason.  None
# now: an entry is added only with a plan to split the file.
declare -A long_ok=()
max_lines=1000

# floor_of REL: the floor of a file or header named from src/libimg.
floor_of () {
    local rel=$1 dir=${1%%/*}
    if [ "$dir" = "$rel" ]; then
        echo "${top_floor[$rel]:-public}"
    elif [ -n "${rank[$dir]+x}" ]; then
        echo "$dir"
    else
        echo "unknown"
    fi
}

is_public () {
    case $1 in libimg.h|img-*.h) return 0 ;; *) return 1 ;; esac
}

cd "$lib" || bail "cannot enter $lib"
mapfile -t files < <(find . -name '*.[ch]' -printf '%P\n' | LC_ALL=C sort)
[ "${#files[@]}" -gt 20 ] || bail "only ${#files[@]} library files found"

# Every quoted include, resolved as the compiler does here: next to the
# file first, then from src/libimg (AM_CPPFLAGS).
edges=()
for f in "${files[@]}"; do
    while IFS= read -r h; do
        d=$(dirname "$f")
        if [ "$d" != . ] && [ -f "$d/$h" ]; then
            edges+=("$f $d/$h")
        else
            edges+=("$f $h")
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
diag "${#files[@]} files, ${#edges[@]} quoted includes"

# 1. No arrow up a floor.
bad=0
for e in "${edges[@]}"; do
    set -- $e
    from=$(floor_of "$1") to=$(floor_of "$2")
    if [ "$to" = unknown ] || [ ! -f "$2" ]; then
        diag "$1 includes $2, which is not a library header"
        bad=$((bad + 1))
    elif [ "$from" = unknown ]; then
        diag "$1 is in no floor (${floors[*]})"
        bad=$((bad + 1))
    elif [ "$to" = public ] || [ "$from" = public ]; then
        :   # unlisted public headers: checked below
    elif [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
        diag "$1 ($from) includes $2 ($to): an arrow up a floor"
        bad=$((bad + 1))
    fi
done
ok $bad "no library file includes a header of a higher floor"

# 2. Public headers include only public headers.
bad=0
for e in "${edges[@]}"; do
    set -- $e
    if is_public "$1" && ! is_public "$2"; then
        diag "public header $1 includes internal header $2"
        bad=$((bad + 1))
    fi
done
ok $bad "the public headers include only public headers"

# 3. No file over the limit, but the listed ones; and the list is not stale.
bad=0
for f in "${files[@]}"; do
    n=$(wc -l < "$f")
    if [ "$n" -gt "$max_lines" ]; then
        if [ -n "${long_ok[$f]+x}" ]; then
            diag "exception: $f has $n lines (${long_ok[$f]})"
        else
            diag "$f has $n lines (more than $max_lines)"
            bad=$((bad + 1))
        fi
    fi
done
ok $bad "no library file is over $max_lines lines but the listed exceptions"
bad=0
for f in "${!long_ok[@]}"; do
    if [ ! -f "$f" ] || [ "$(wc -l < "$f")" -le "$max_lines" ]; then
        diag "stale exception: $f is gone or within $max_lines lines; drop it from long_ok"
        bad=$((bad + 1))
    fi
done
ok $bad "every exception to the line limit is still needed"

# 4. Each floor's internal functions are declared in a header of that
# floor: an internal header names nothing a higher floor defines.
bad=0
declare -A def_in
for f in "${files[@]}"; do
    case $f in *.c) ;; *) continue ;; esac
    for fn in $(sed -n 's/^\(img_internal_[a-z0-9_]*\) (.*/\1/p' "$f"); do
        def_in[$fn]=$f
    done
done
n_decl=0
for f in "${files[@]}"; do
    case $f in *.h) ;; *) continue ;; esac
    for fn in $(grep -o 'img_internal_[a-z0-9_]* (' "$f" | sed 's/ ($//' | sort -u); do
        [ -n "${def_in[$fn]+x}" ] || continue
        n_decl=$((n_decl + 1))
        hf=$(floor_of "$f") df=$(floor_of "${def_in[$fn]}")
        if [ "$hf" != "$df" ]; then
            diag "$f ($hf) declares $fn, defined in ${def_in[$fn]} ($df)"
            bad=$((bad + 1))
        fi
    done
done
diag "$n_decl internal functions declared in headers"
ok $bad "every internal function is declared in a header of its own floor"

# 5. The checks can fail: a made-up arrow up and a long file are caught.
from=$(floor_of disk/disk.c) to=$(floor_of edit/plan.c)
[ "${rank[$to]}" -gt "${rank[$from]}" ]
ok $? "disk/disk.c including edit/ would count as an arrow up"
from=$(floor_of disk/undo.c) to=$(floor_of img-edit.h)
[ "${rank[$to]}" -gt "${rank[$from]}" ]
ok $? "disk/undo.c including img-edit.h would count as an arrow up"

done_testing
