#!/bin/bash
# Bash completion (data/completion/img-tools): every option a tool's
# --help lists is offered, every option offered is one the tool takes,
# values are completed for --format, --backend and --budget, a value
# slot gets file names rather than options, and img-batch completes its
# TOOL and then that tool's options.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/data/completion/img-tools"
cd "$TMP"
touch disk.qcow2

# comp WORD...: what completing the last WORD offers, sorted, one line.
comp () {
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
    _img_tools "$1"
    [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}

for t in img2pv img-ramify img-inspect img-batch; do
    [ "$(complete -p "$t" 2>/dev/null)" = "complete -o filenames -F _img_tools $t" ]
    ok $? "$t: the completion is registered"
    want=$("$t" --help | grep -E '^ +-' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')
    got=$(comp "$t" -- | tr ' ' '\n' | grep -- '^--' | sort -u | tr '\n' ' ')
    [ -n "$want" ]; ok $? "$t --help lists long options"
    is "$got" "$want" "$t: every long option of --help is offered"
    bad=
    for o in $got; do
        "$t" "$o" < /dev/null 2>&1 | grep -q "unknown option $o" && bad="$bad $o"
    done
    is "$bad" "" "$t: every long option offered is one $t takes"
done
is "$(comp img2pv --format q)" "qcow2 qed " "img2pv --format: container formats"
is "$(comp img-inspect --backend '')" "auto guestfs native " "img-inspect --backend: its three values"
is "$(comp img-ramify --budget=inflate)" "--budget=inflate-total= --budget=inflate= " "--budget=: the budget names"
is "$(comp img2pv --undo dis)" "disk.qcow2 " "img2pv --undo: a file name, not an option"
is "$(comp img2pv -o dis)" "disk.qcow2 " "img2pv -o (short, takes a value): a file name"
is "$(comp img2pv --xvd dis)" "disk.qcow2 " "img2pv --xvd (a flag): then the image"
is "$(comp img2pv --no-x)" "--no-xl-config " "img2pv --no-x: --no-xl-config"
is "$(comp img-batch -j 2 img-)" "img-inspect img-ramify " "img-batch: TOOL after its own options and their values"
is "$(comp img-batch -j 2 -m list img2pv --dry)" "--dry-run " "img-batch: the TOOL's own options after TOOL"
is "$(comp img-batch -o o)" "" "img-batch -o: a directory (there is none here)"
mkdir outdir
is "$(comp img-batch -o o)" "outdir " "img-batch -o: a directory"
is "$(comp img-batch --sha)" "--shard " "img-batch: its own options before TOOL"
is "$(comp img-batch --pin y)" "yes " "img-batch --pin: its values"
is "$(comp img-batch -j 2 img-inspect dis)" "disk.qcow2 " "img-batch: images after the TOOL-OPTIONs"
done_testing
