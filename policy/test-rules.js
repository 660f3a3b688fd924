// SPDX-License-Identifier: LGPL-2.1-or-later
// test-rules.js: runs 50-vfbroker-example.rules in node with a stand-in for
// polkitd's "polkit" object, and checks whom it grants which action.
// Usage: node test-rules.js RULES
'use strict';
const fs = require('fs');
const vm = require('vm');

const rules = [];
const polkit = {
    Result: { YES: 'yes', NO: 'no', AUTH_ADMIN: 'auth_admin', NOT_HANDLED: null },
    addRule(f) { rules.push(f); },
    log() {},
};
vm.runInNewContext(fs.readFileSync(process.argv[2], 'utf8'), { polkit }, { filename: process.argv[2] });

function decide(actionId, groups, details) {
    const action = { id: actionId, lookup: (k) => (details || {})[k] };
    const subject = { user: 'alice', isInGroup: (g) => groups.includes(g) };
    for (const r of rules) {
        const v = r(action, subject);
        if (v !== null && v !== undefined)
            return v;
    }
    return null;
}

const cases = [
    ['org.vfbroker.acquire-vf', ['vfbroker'], 'yes'],
    ['org.vfbroker.acquire-vf', ['kvm', 'users'], null],
    ['org.vfbroker.manage', ['vfbroker'], null],
    ['org.vfbroker.read-token', ['vfbroker'], null],
    ['org.freedesktop.login1.reboot', ['vfbroker'], null],
];
let failed = 0;
for (const [id, groups, want] of cases) {
    const got = decide(id, groups, { tenant: 'blue' });
    const ok = got === want;
    if (!ok)
        failed++;
    console.log(`${ok ? 'ok' : 'FAIL'}: ${id} for groups [${groups}] -> ${got} (want ${want})`);
}
if (rules.length !== 1) {
    console.log(`FAIL: ${rules.length} rules registered, expected 1`);
    failed++;
}
process.exit(failed ? 1 : 0);
