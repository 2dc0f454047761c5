#!/usr/bin/env python3
"""Fill docs/lab-guide.md from its template and the rig's console log.

The check job runs the lab (tests/rig/jobs/lab.sh); each step prints
"### $ COMMAND", the command's output, then its KVMX-RESULT line.  This puts
each step's real output where the template says @@STEP@@.

    scripts/lab-doc.py build/rig/check/serial.log
"""
import re
import sys

ROOT = __file__.rsplit('/scripts/', 1)[0]
KERNEL_LINE = re.compile(r'^\[\s*\d+\.\d+\] ')
# marker -> (the step's command prefix, the most lines to show)
STEPS = {
    'GUEST': ('kvmx run /kvmx/guests/lab.bin', 10),
    'STAT': ('kvmx stat', 40),
    'TOP': ('kvmx top', 40),
    'VMCS': ('kvmx vmcs', 200),
    'EPT': ('kvmx ept', 12),
    'WALK': ('kvmx ept --gpa', 20),
    'TRACE': ('grep -E', 12),
    'EVENTS': ('cat /tmp/lab-events.out', 10),
}


def steps(log):
    """{command: [output lines]} for each '### $' step of the lab."""
    out, cmd = {}, None
    for line in log:
        line = line.rstrip('\r\n')
        if line.startswith('### $ '):
            cmd = line[6:]
            out[cmd] = []
        elif line.startswith(('KVMX-RESULT', '### ')):
            cmd = None
        elif cmd is not None and not KERNEL_LINE.match(line):
            out[cmd].append(line)
    return out


def main():
    with open(sys.argv[1], errors='replace') as f:
        found = steps(f)
    with open(ROOT + '/docs/lab-guide.md.in') as f:
        doc = f.read()
    for marker, (prefix, most) in STEPS.items():
        cmd = next((c for c in found if c.startswith(prefix) and
                    not (prefix == 'kvmx ept' and '--gpa' in c)), None)
        if cmd is None:
            sys.exit(f'lab-doc: no step "{prefix}" in {sys.argv[1]}')
        lines = found[cmd]
        if len(lines) > most:
            lines = lines[:most - 1] + [f'... ({len(lines) - most + 1} more lines)']
        shown = cmd.replace('/kvmx/guests/', 'build/guests/')
        if marker == 'TRACE':	# the log shows it without its quotes
            shown = 'grep -E "kvmx_ept_fault|KVM_EXIT 6 " /sys/kernel/tracing/trace'
        body = '\n'.join(lines)
        if marker == 'GUEST':
            block = f'```\n{body}\n```'
        else:
            block = f'```\n$ {shown}\n{body}\n```'
        doc = doc.replace(f'@@{marker}@@', block)
    with open(ROOT + '/docs/lab-guide.md', 'w') as f:
        f.write(doc)


if __name__ == '__main__':
    main()
