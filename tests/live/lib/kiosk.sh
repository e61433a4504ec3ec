# Shell functions shared by the live kiosk scripts: tests/live/kiosk-smoke.sh (one kiosk, proven)
# and bench/kiosks.sh (many kiosks from one image, measured). Source it; it defines functions
# only and sets nothing.
#
# The page both serve is 3 columns x 2 rows of solid colour blocks, listed row by row, which
# tests/live/rfb_capture.py checks over VNC (`--grid 3x2 --colours ...`).

# kiosk_write_page FILE COLOUR...: writes the page of blocks of the six RRGGBB COLOURs to FILE,
# atomically (a server reading it sees the old page or the new one, never half of one).
kiosk_write_page() {
    local file=$1 blocks="" colour
    shift
    for colour in "$@"; do
        blocks="$blocks<div style=\"background:#$colour\"></div>"
    done
    cat > "$file.part" << HTML
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>debroot kiosk test page</title>
<style>
html, body { margin: 0; width: 100%; height: 100%; overflow: hidden; }
body { display: grid; grid-template-columns: repeat(3, 1fr); grid-template-rows: repeat(2, 1fr); }
</style></head>
<body>$blocks</body></html>
HTML
    mv "$file.part" "$file"
}

# kiosk_port_free PYTHON PORT: succeeds when nothing listens on 127.0.0.1:PORT.
kiosk_port_free() {
    "$1" -c 'import socket, sys; socket.create_server(("127.0.0.1", int(sys.argv[1])))' \
        "$2" 2> /dev/null
}

# kiosk_container_processes PIDNS [COMM]: prints the pid of each host process in the PID
# namespace PIDNS (as `readlink /proc/PID/ns/pid` prints it), only those whose command name is
# COMM when given.
kiosk_container_processes() {
    local pidns=$1 comm=${2:-} proc
    for proc in /proc/[0-9]*; do
        if [ "$(readlink "$proc/ns/pid" 2> /dev/null)" = "$pidns" ] &&
            { [ -z "$comm" ] || [ "$(cat "$proc/comm" 2> /dev/null)" = "$comm" ]; }; then
            echo "${proc#/proc/}"
        fi
    done
}
