# SPDX-License-Identifier: LGPL-2.1-or-later
# The configuration keys vfbrokerd's parser accepts, read from the key tables
# of daemon/config.c and confirmed by asking the parser itself; shared by the
# manual page and example configuration tests.

import os
import re
import subprocess
import tempfile

# config.c keeps one NULL-terminated table of key names per section; the
# table names map to sections here, and an unknown table is an error so a new
# section cannot go undocumented.
TABLE_SECTIONS = {'broker': 'Broker', 'pf': 'PhysicalFunction', 'tenant': 'Tenant'}


def config_keys(config_c):
    """{section: [key, ...]} in table order; raises ValueError if the tables
    are not where and what they are expected to be."""
    with open(config_c, encoding='utf-8') as f:
        src = f.read()
    tables = re.findall(r'static\s+const\s+char\s*\*\s*const\s+(\w+)_keys\[\]\s*=\s*\{(.*?)\};', src, re.S)
    keys = {}
    for table, body in tables:
        if table not in TABLE_SECTIONS:
            raise ValueError(f'{config_c} has a key table {table}_keys unknown to {__file__}: add its section '
                             'to TABLE_SECTIONS and document it in vfbroker.conf(5)')
        if not re.search(r'\bNULL\s*,?$', body.strip()):
            raise ValueError(f'{table}_keys in {config_c} does not end in NULL: update the extraction')
        keys[TABLE_SECTIONS[table]] = re.findall(r'"([A-Za-z]+)"', body)
    for section in TABLE_SECTIONS.values():
        if not keys.get(section):
            raise ValueError(f'no keys of [{section}] found in {config_c}: update the extraction')
    return keys


def check_config_error(vfbrokerd, text):
    """What vfbrokerd --check-config says on stderr about a file holding text."""
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, 'probe.conf')
        with open(conf, 'w', encoding='utf-8') as f:
            f.write(text)
        r = subprocess.run([vfbrokerd, '--check-config', '--config', conf, '--config-dir', os.path.join(d, 'none')],
                           capture_output=True, text=True)
        return r.stderr


def numeric_limits(vfbrokerd, section, key):
    """(min, max) of a numeric key, as the parser itself states them when
    given a value that is not a number; None for other keys."""
    err = check_config_error(vfbrokerd, f'[{section}]\n{key}=not-a-number\n')
    m = re.search(re.escape(key) + r'=not-a-number is not a number between (\d+) and (\d+)', err)
    return (int(m.group(1)), int(m.group(2))) if m else None


def unknown_to_parser(vfbrokerd, keys):
    """The keys the parser refuses as unknown in their section ([] when the
    tables and the parser agree). The value is nonsense on purpose: only the
    "unknown key" error counts. A key that is not in any table must be
    refused, or the probe proves nothing."""
    def unknown(section, key):
        return 'unknown key' in check_config_error(vfbrokerd, f'[{section}]\n{key}=?probe?\n')

    refused = []
    for section, names in keys.items():
        if not unknown(section, 'NoSuchKeyForTheProbe'):
            raise ValueError(f'vfbrokerd --check-config does not refuse an unknown key in [{section}]: '
                             'the probe is broken')
        refused += [f'[{section}] {k}=' for k in names if unknown(section, k)]
    return refused
