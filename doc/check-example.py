#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the example vfbroker.conf: vfbrokerd --check-config accepts it as
# installed (all commented out) and with every setting uncommented, and it
# sets every key the parser accepts, in the right section.

import argparse
import os
import re
import subprocess
import sys
import tempfile

parser = argparse.ArgumentParser()
parser.add_argument('--vfbrokerd', required=True)
parser.add_argument('--config-c', required=True)
parser.add_argument('--keys-module-dir', required=True)
parser.add_argument('example')
args = parser.parse_args()

sys.dont_write_bytecode = True
sys.path.insert(0, args.keys_module_dir)
import configkeys  # noqa: E402

failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg)


def check_config(text, what):
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, 'vfbroker.conf')
        with open(conf, 'w', encoding='utf-8') as f:
            f.write(text)
        r = subprocess.run([args.vfbrokerd, '--check-config', '--config', conf, '--config-dir', os.path.join(d, 'none')],
                           capture_output=True, text=True)
        print(f'--- vfbrokerd --check-config on {what}: exit {r.returncode}\n{r.stdout}{r.stderr}', end='')
        if r.returncode != 0:
            fail(f'vfbrokerd --check-config refuses {what}: {r.stderr.strip()}')
        return r.stdout


with open(args.example, encoding='utf-8') as f:
    example = f.read()

# A setting is "#" right before a section header or a key; notes are "# ...".
setting = re.compile(r'^#(?=\[|[A-Za-z]+=)', re.M)
uncommented = setting.sub('', example)
if uncommented == example:
    fail('the example has no commented settings ("#Key=value")')

check_config(example, 'the example as installed')
out = check_config(uncommented, 'the example with every setting uncommented')
n_pfs = len(re.findall(r'^\[PhysicalFunction\]', uncommented, re.M))
n_tenants = len(re.findall(r'^\[Tenant\]', uncommented, re.M))
if f'{n_pfs} physical function section(s), {n_tenants} tenant(s)' not in out:
    fail(f'--check-config did not count the {n_pfs} PF and {n_tenants} tenant sections of the example')

# Every key the parser accepts is set, uncommented, in a section of its own kind.
try:
    keys = configkeys.config_keys(args.config_c)
except ValueError as e:
    fail(str(e))
    keys = {}
found = {}
section = None
for line in uncommented.splitlines():
    m = re.match(r'^\[(\w+)\]$', line)
    if m:
        section = m.group(1)
    m = re.match(r'^([A-Za-z]+)=', line)
    if m and section:
        found.setdefault(section, set()).add(m.group(1))
for section, names in keys.items():
    for k in names:
        if k not in found.get(section, set()):
            fail(f'the example does not set {k}= in a [{section}] section')

if failures:
    print(f'{len(failures)} problem(s) in {args.example}')
    sys.exit(1)
print(f'{args.example}: valid, sets all {sum(len(v) for v in keys.values())} keys')
