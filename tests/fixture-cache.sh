# Sourced by the cached fixture builders (tests/md-fixtures.sh,
# tests/luks-fixtures.sh), which set $cache first.
# fixture_dir NAME KEY: sets dir=$cache/NAME-KEY, creates it and holds its
# lock (fd 9) for the rest of the script; when the set there is already
# complete for KEY, prints the directory and ends the script.
fixture_dir () {
    dir=$cache/$1-$2
    mkdir -p "$dir"
    exec 9>"$dir/.lock"
    flock 9
    if [ "$(cat "$dir/.complete" 2>/dev/null)" = "$2" ]; then
        echo "$dir"
        exit 0
    fi
}
