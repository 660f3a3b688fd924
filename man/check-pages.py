#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the manual pages: each renders without a warning (scdoc, groff -ww,
# man --warnings), and each covers what the code offers, so they cannot drift:
# every option and command of --help, every configuration key the parser
# accepts (in its section's part of vfbroker.conf(5)), every exported symbol.

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import configkeys  # noqa: E402

failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg)


def run(cmd, stdin=None, env=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)


def render(roff):
    """The page as plain text (what a reader sees, but without hyphenation,
    which would split the names looked for), and groff's warnings."""
    env = dict(os.environ, LC_ALL='C.UTF-8')
    r = run(['groff', '-t', '-man', '-rHY=0', '-ww', '-Tascii', '-P-cbou'], stdin=roff, env=env)
    if r.returncode != 0:
        fail(f'groff exited with {r.returncode}: {r.stderr.strip()}')
    return r.stdout, r.stderr


def check_rendering(name, scd_path, roff_path):
    with open(scd_path, encoding='utf-8') as f:
        scd = f.read()
    r = run([args.scdoc], stdin=scd)
    if r.returncode != 0 or r.stderr:
        fail(f'{name}: scdoc exited with {r.returncode}: {r.stderr.strip()}')
    with open(roff_path, encoding='utf-8') as f:
        roff = f.read()
    # .TH carries the build's date, which may not be today's.
    def undated(t):
        return [line for line in t.splitlines() if not line.startswith('.TH ')]
    if undated(roff) != undated(r.stdout):
        fail(f'{name}: the built page differs from scdoc\'s output of {scd_path}; rebuild')
    text, warnings = render(roff)
    if warnings.strip():
        fail(f'{name}: groff -ww warns:\n{warnings.rstrip()}')
    man = shutil.which('man')
    if man:
        env = dict(os.environ, LC_ALL='C.UTF-8', MANWIDTH='80', MAN_DISABLE_SECCOMP='1')
        r = run([man, '--warnings', '-E', 'UTF-8', '-l', roff_path], env=env)
        if r.returncode != 0 or r.stderr.strip():
            fail(f'{name}: man --warnings -l exited with {r.returncode}:\n{r.stderr.rstrip()}')
    return text


def help_text(binary):
    r = run([binary, '--help'])
    if r.returncode != 0 or not r.stdout:
        fail(f'{binary} --help exited with {r.returncode}')
    return r.stdout


def options_of(help_out):
    longs = set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', help_out))
    shorts = set(re.findall(r'(?<![\w-])-[a-zA-Z](?=[\s,])', help_out))
    return longs | shorts


def mentions(text, item):
    """item as a whole word of text: --api is not found in --apis, nor
    Quota= in DefaultQuota=."""
    tail = r'(?![\w-])' if re.match(r'[\w-]', item[-1]) else ''
    return re.search(r'(?<![\w-])' + re.escape(item) + tail, text) is not None


def require(page, text, items, what):
    for i in sorted(items):
        if not mentions(text, i):
            fail(f'{page} does not mention {what} {i}')
    if not items:
        fail(f'found no {what} to look for in {page}: the extraction is broken')


def sections_of(text):
    """Rendered page split at its headings (lines starting in column 0)."""
    parts, name = {}, ''
    for line in text.splitlines():
        if line and not line[0].isspace():
            name = line.strip()
            parts.setdefault(name, '')
        else:
            parts[name] = parts.get(name, '') + line + '\n'
    return parts


# ---- what the code offers ----

def ctl_commands(help_out):
    m = re.search(r'^Commands:\n(.*?)^\S', help_out, re.S | re.M)
    if not m:
        fail('vfbrokerctl --help has no "Commands:" block')
        return set()
    return set(re.findall(r'^  (tenant [a-z-]+|[a-z][a-z-]+)', m.group(1), re.M))


def exported_symbols(sym_file, header):
    with open(sym_file, encoding='utf-8') as f:
        syms = set(re.findall(r'^\s*(vfbroker_\w+);', f.read(), re.M))
    with open(header, encoding='utf-8') as f:
        h = f.read()
    types = set(re.findall(r'\}\s*(Vfbroker\w+);', h))
    consts = set(re.findall(r'#define\s+(VFBROKER_\w+)', h)) | set(re.findall(r'^\s*(VFBROKER_API_\w+)\s*=', h, re.M))
    return syms, types | consts


parser = argparse.ArgumentParser()
parser.add_argument('--scdoc', required=True)
parser.add_argument('--vfbrokerd', required=True)
parser.add_argument('--vfbrokerctl', required=True)
parser.add_argument('--config-c', required=True)
parser.add_argument('--sym', required=True)
parser.add_argument('--header', required=True)
parser.add_argument('--protocol', required=True, help='common/protocol.h: the error names')
parser.add_argument('--xml', required=True, help='the D-Bus interface: its methods and properties')
parser.add_argument('--cc', help='C compiler command (words separated by spaces) for the SYNOPSIS and EXAMPLE of libvfbroker(3)')
parser.add_argument('pages', nargs='+', help='SCD=ROFF pairs')
args = parser.parse_args()

if not shutil.which('groff'):
    print('groff not found (apt-get install groff-base): cannot render the pages')
    sys.exit(77)

texts = {}
for pair in args.pages:
    scd, roff = pair.split('=', 1)
    name = os.path.basename(roff)
    texts[name] = check_rendering(name, scd, roff)

d_help = help_text(args.vfbrokerd)
require('vfbrokerd.8', texts['vfbrokerd.8'], options_of(d_help), 'option')

c_help = help_text(args.vfbrokerctl)
require('vfbrokerctl.1', texts['vfbrokerctl.1'], options_of(c_help), 'option')
# Commands such as "tenant create" may be wrapped across lines on the page.
require('vfbrokerctl.1', ' '.join(texts['vfbrokerctl.1'].split()), ctl_commands(c_help), 'command')
require('vfbrokerctl.1', texts['vfbrokerctl.1'], set(re.findall(r'VFBROKER_[A-Z_]*[A-Z]', c_help)),
        'environment variable')
# --help names the exit codes; the page must list the same numbers.
codes = set(re.findall(r'^  (\d)  ', c_help, re.M))
exit_part = sections_of(texts['vfbrokerctl.1']).get('EXIT STATUS', '')
require('vfbrokerctl.1 (EXIT STATUS)', exit_part, codes, 'exit code')

try:
    keys = configkeys.config_keys(args.config_c)
    for k in configkeys.unknown_to_parser(args.vfbrokerd, keys):
        fail(f'{k} is in the key table of {args.config_c}, but vfbrokerd refuses it there')
except ValueError as e:
    fail(str(e))
    keys = {}
conf_parts = sections_of(texts['vfbroker.conf.5'])
for section, names in keys.items():
    heading = f'[{section}] SECTION'
    if heading not in conf_parts:
        fail(f'vfbroker.conf.5 has no heading "{heading}"')
        continue
    require(f'vfbroker.conf.5 ({heading})', conf_parts[heading], {k + '=' for k in names}, 'key')



def item_body(part, key):
    """The text of the Key= item in a rendered section, on one line."""
    m = re.search(r'^ {7}' + re.escape(key) + r'=\n(.*?)(?=^ {7}\S|\Z)', part, re.S | re.M)
    return ' '.join(m.group(1).split()) if m else ''


# Each numeric key's item states the limits the parser enforces.
n_limits = 0
for section, names in keys.items():
    part = conf_parts.get(f'[{section}] SECTION', '')
    for k in names:
        limits = configkeys.numeric_limits(args.vfbrokerd, section, k)
        if limits is None:
            continue
        n_limits += 1
        if f'{limits[0]} to {limits[1]}' not in item_body(part, k):
            fail(f'vfbroker.conf.5 does not say that {k}= is {limits[0]} to {limits[1]}, as the parser does')
if n_limits == 0:
    fail('the parser stated no limits of numeric keys: the probe is broken')

# The D-Bus contract: every method, property and error name the broker has.
with open(args.xml, encoding='utf-8') as f:
    members = set(re.findall(r'<(?:method|property) name="(\w+)"', f.read()))
require('vfbrokerd.8', texts['vfbrokerd.8'], members, 'D-Bus member')
with open(args.protocol, encoding='utf-8') as f:
    errors = set(re.findall(r'VFBROKER_ERROR_PREFIX\s+"(\w+)"', f.read()))
require('vfbrokerd.8', texts['vfbrokerd.8'], errors, 'error name')
require('libvfbroker.3', texts['libvfbroker.3'], {'org.vfbroker.Error.' + e for e in errors}, 'error name')

syms, names = exported_symbols(args.sym, args.header)
require('libvfbroker.3', texts['libvfbroker.3'], syms, 'exported function')
require('libvfbroker.3', texts['libvfbroker.3'], names, 'type or constant')



def literal_blocks(scd_path, heading):
    """The ``` blocks under a '# HEADING' of an scdoc source, unescaped."""
    with open(scd_path, encoding='utf-8') as f:
        src = f.read()
    part = re.search(r'^# ' + heading + r'\n(.*?)(?=^# |\Z)', src, re.S | re.M)
    blocks = re.findall(r'^```\n(.*?)^```$', part.group(1) if part else '', re.S | re.M)
    return [re.sub(r'\\(.)', r'\1', b) for b in blocks]


# The prototypes of the SYNOPSIS are the header's (a mismatch is a conflicting
# declaration) and name every exported function; the EXAMPLE compiles cleanly.
if args.cc:
    scd3 = next(p.split('=', 1)[0] for p in args.pages if p.endswith('libvfbroker.3'))
    synopsis = ''.join(literal_blocks(scd3, 'SYNOPSIS'))
    example = ''.join(literal_blocks(scd3, 'EXAMPLE'))
    declared = set(re.findall(r'\b(vfbroker_\w+)\(', synopsis))
    for f in sorted(syms - declared):
        fail(f'the SYNOPSIS of libvfbroker.3 does not declare {f}()')
    include = os.path.dirname(os.path.dirname(os.path.abspath(args.header)))
    for what, code in (('SYNOPSIS', synopsis), ('EXAMPLE', example)):
        if not code:
            fail(f'libvfbroker.3 has no code in its {what}')
            continue
        r = run(shlex.split(args.cc) + ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-fsyntax-only', '-I', include,
                 '-x', 'c', '-'], stdin=code)
        if r.returncode != 0:
            fail(f'the {what} of libvfbroker.3 does not compile against {args.header}:\n{r.stderr.rstrip()}')

if failures:
    print(f'{len(failures)} problem(s) in the manual pages')
    sys.exit(1)
print(f'{len(texts)} pages render without warnings and cover '
      f'{len(options_of(d_help))} + {len(options_of(c_help))} options, '
      f'{sum(len(v) for v in keys.values())} configuration keys ({n_limits} with limits), {len(syms)} functions')
