#!/bin/bash
. "$top_srcdir/tests/functions.sh"
bail "being written"
