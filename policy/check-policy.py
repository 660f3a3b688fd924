#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks org.vfbroker.policy: well-formed, the three actions of DESIGN.md with
# description, message and valid defaults, and the same set of actions that
# proto/org.vfbroker.Broker1.xml names; and that the example rules file only
# names actions that exist.
# Usage: check-policy.py POLICY PROTO_XML RULES
import re
import sys
import xml.etree.ElementTree as ET

policy_path, proto_path, rules_path = sys.argv[1:4]
failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg)


EXPECTED = {'org.vfbroker.acquire-vf', 'org.vfbroker.manage', 'org.vfbroker.read-token'}
VALID = {'no', 'yes', 'auth_self', 'auth_admin', 'auth_self_keep', 'auth_admin_keep'}

root = ET.parse(policy_path).getroot()
if root.tag != 'policyconfig':
    fail(f'root element is {root.tag}, not policyconfig')
actions = {}
for a in root.findall('action'):
    aid = a.get('id')
    if aid in actions:
        fail(f'action {aid} defined twice')
    actions[aid] = a
    for tag in ('description', 'message'):
        el = a.find(tag)
        if el is None or not (el.text or '').strip():
            fail(f'{aid}: no {tag}')
    d = a.find('defaults')
    if d is None:
        fail(f'{aid}: no defaults')
        continue
    for tag in ('allow_any', 'allow_inactive', 'allow_active'):
        el = d.find(tag)
        value = (el.text or '').strip() if el is not None else None
        if value not in VALID:
            fail(f'{aid}: {tag} is {value!r}')
        # Non-interactive checks: anything but auth_admin would grant the
        # action to every local user by default.
        elif value != 'auth_admin':
            fail(f'{aid}: {tag} is {value}, expected auth_admin (rules decide)')
if set(actions) != EXPECTED:
    fail(f'actions are {sorted(actions)}, expected {sorted(EXPECTED)}')

proto = open(proto_path, encoding='utf-8').read()
named = set(re.findall(r'org\.vfbroker\.[a-z][a-z-]*[a-z]', proto)) - {'org.vfbroker.Broker1'}
named = {n for n in named if not n.startswith('org.vfbroker.Error')}
if named != set(actions):
    fail(f'proto names actions {sorted(named)}, the policy defines {sorted(actions)}')

rules = open(rules_path, encoding='utf-8').read()
for aid in set(re.findall(r'"(org\.vfbroker\.[^"]+)"', rules)):
    if aid not in actions:
        fail(f'rules file names unknown action {aid}')
if 'polkit.addRule(' not in rules or rules.count('{') != rules.count('}') \
        or rules.count('(') != rules.count(')'):
    fail('rules file does not look like one balanced polkit.addRule() call')

print(f'{len(actions)} actions checked, {len(failures)} problems')
sys.exit(1 if failures else 0)
