"""The default pack on typical lines of each category it covers, and on look-alikes it must not
match. The lines follow the real formats of the kernel, systemd, sshd, chrony, ntpd, ..."""

from __future__ import annotations

import pytest

from agent.logs.rules import Rule, RuleSet, load_rules


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


P = "Mar  1 10:00:00 web1 "  # a syslog prefix

MATCHING: list[tuple[str, str, dict[str, str]]] = [
    (
        P + "kernel: [12345.678901] Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:7000000kB",
        "kernel.oom_kill",
        {"pid": "4242", "process": "java"},
    ),
    (
        P + "kernel: Memory cgroup out of memory: Killed process 99 (python3) total-vm:10kB",
        "kernel.oom_kill",
        {"pid": "99", "process": "python3"},
    ),
    (
        P + "kernel: Out of memory: Kill process 1234 (mysqld) score 901 or sacrifice child",
        "kernel.oom_kill",
        {"pid": "1234", "process": "mysqld"},
    ),
    (
        P + "systemd[1]: app.service: A process of this unit has been killed by the OOM killer.",
        "systemd.oom_kill",
        {"unit": "app.service"},
    ),
    (
        P + "systemd[1]: worker@3.service: Failed with result 'oom-kill'.",
        "systemd.oom_kill",
        {"unit": "worker@3.service"},
    ),
    (P + "kernel: Kernel panic - not syncing: Fatal exception in interrupt", "kernel.panic", {}),
    (
        P + "kernel: watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [kworker/3:1:123]",
        "kernel.soft_lockup",
        {"cpu": "3", "seconds": "23"},
    ),
    (
        P + "kernel: INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds.",
        "kernel.hung_task",
        {"process": "jbd2/sda1-8", "pid": "312", "seconds": "120"},
    ),
    (P + "kernel: mce: [Hardware Error]: Machine check events logged", "hardware.mce", {}),
    (
        P + "kernel: blk_update_request: I/O error, dev sda, sector 123456 op 0x0:(READ) flags 0x0 phys_seg 1",
        "disk.io_error",
        {"device": "sda"},
    ),
    (P + "kernel: Buffer I/O error on dev sdb1, logical block 0, async page read", "disk.io_error", {"device": "sdb1"}),
    (P + "kernel: blk_update_request: critical medium error, dev sdc, sector 2048", "disk.io_error", {"device": "sdc"}),
    (P + "kernel: ata1.00: failed command: READ FPDMA QUEUED", "disk.controller_error", {"device": "ata1.00"}),
    (
        P + "kernel: sd 0:0:0:0: [sda] tag#7 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_SENSE",
        "disk.controller_error",
        {"device": "sda"},
    ),
    (
        P + "smartd[812]: Device: /dev/sda [SAT], 8 Currently unreadable (pending) sectors",
        "disk.smart_failure",
        {"device": "/dev/sda"},
    ),
    (P + "mdadm[900]: DegradedArray event detected on md device /dev/md0", "raid.degraded", {"array": "/dev/md0"}),
    (
        P + "kernel: md/raid1:md0: Disk failure on sdb1, disabling device.",
        "raid.degraded",
        {"array": "md0", "device": "sdb1"},
    ),
    (
        P + "kernel: EXT4-fs error (device sda1): ext4_find_entry:1463: inode #2: comm ls: reading directory lblock 0",
        "fs.error",
        {"fs": "EXT4-fs", "device": "sda1"},
    ),
    (
        P + "kernel: XFS (dm-0): Corruption detected. Unmount and run xfs_repair",
        "fs.error",
        {"fs": "XFS", "device": "dm-0"},
    ),
    (P + "kernel: EXT4-fs (sda1): Remounting filesystem read-only", "fs.read_only", {}),
    (P + "app[77]: cannot open /data/x.db: Read-only file system", "fs.read_only", {}),
    (
        P + 'postgres[123]: ERROR:  could not extend file "base/16384/2619": No space left on device',
        "disk.no_space",
        {},
    ),
    (
        P + "kernel: [ 1234.5678] nginx[3141]: segfault at 0 ip 00007f2b3c4d5e6f sp 00007ffd8 error 4 in libc.so.6",
        "kernel.segfault",
        {"process": "nginx", "pid": "3141", "address": "0"},
    ),
    (
        P + "kernel: traps: myapp[2718] general protection fault ip:7f1 sp:7ff error:0 in libfoo.so",
        "kernel.trap",
        {"process": "myapp", "pid": "2718", "trap": "general protection fault"},
    ),
    (
        P + "systemd-coredump[5555]: Process 4444 (myapp) of user 1000 dumped core.",
        "process.core_dump",
        {"pid": "4444", "process": "myapp", "uid": "1000"},
    ),
    (
        P + "systemd[1]: Failed to start nginx.service - A high performance web server and a reverse proxy server.",
        "systemd.unit_start_failed",
        {"unit": "nginx.service", "description": "A high performance web server and a reverse proxy server"},
    ),
    (
        P + "systemd[1]: Failed to start The Apache HTTP Server.",
        "systemd.unit_start_failed",
        {"description": "The Apache HTTP Server"},
    ),
    (
        P + "systemd[1]: nginx.service: Failed with result 'exit-code'.",
        "systemd.unit_failed",
        {"unit": "nginx.service", "result": "exit-code"},
    ),
    (P + "systemd[1]: Unit cups.service entered failed state.", "systemd.unit_failed", {"unit": "cups.service"}),
    (
        P + "chronyd[600]: Can't synchronise: no selectable sources",
        "time.ntp_sync_lost",
        {"reason": "Can't synchronise"},
    ),
    (P + "ntpd[700]: kernel reports TIME_ERROR: 0x41: Clock Unsynchronized", "time.ntp_sync_lost", {}),
    (
        P + "systemd-timesyncd[500]: Timed out waiting for reply from 91.189.89.198:123 (ntp.ubuntu.com).",
        "time.ntp_sync_lost",
        {"server": "91.189.89.198:123"},
    ),
    (P + "chronyd[600]: System clock wrong by 12.345678 seconds", "time.ntp_sync_lost", {"offset": "12.345678"}),
    (
        P
        + "sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
        "sudo.auth_failure",
        {"user": "alice", "reason": "3 incorrect password attempts"},
    ),
    (
        P + "sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh",
        "sudo.auth_failure",
        {"user": "bob", "reason": "user NOT in sudoers"},
    ),
    (P + 'postgres[9]: FATAL:  password authentication failed for user "app"', "auth.failed", {}),
    (
        P + "sshd[1]: error: PAM: Authentication failure for illegal user admin from 198.51.100.7",
        "pam.auth_failure",
        {"user": "admin", "rhost": "198.51.100.7"},
    ),
    (
        P + "sshd[1]: pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked",
        "pam.account_locked",
        {"user": "root"},
    ),
    (P + "su[2]: FAILED SU (to root) alice on pts/0", "auth.failed", {}),
    (P + "login[3]: FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure", "auth.failed", {}),
    (
        P + "sshd[1]: error: maximum authentication attempts exceeded for root from 1.2.3.4 port 2222 ssh2 [preauth]",
        "sshd.too_many_auth_failures",
        {"user": "root", "rhost": "1.2.3.4"},
    ),
    (
        P + "sshd[1]: Invalid user admin from 1.2.3.4 port 4444",
        "sshd.invalid_user",
        {"user": "admin", "rhost": "1.2.3.4"},
    ),
    (
        P + "sshd[1]: Failed publickey for root from 1.2.3.4 port 22 ssh2: RSA SHA256:abc",
        "sshd.failed_auth",
        {"method": "publickey", "user": "root", "rhost": "1.2.3.4", "port": "22"},
    ),
    (
        P + "sshd[1]: Address 1.2.3.4 maps to x.example, but this does not map back to the address - "
        "POSSIBLE BREAK-IN ATTEMPT!",
        "sshd.break_in_attempt",
        {"rhost": "1.2.3.4", "rdns": "x.example"},
    ),
    (
        P + "sshd[1]: error: Received disconnect from 1.2.3.4 port 5: 3: com.jcraft.jsch.JSchException: Auth fail "
        "[preauth]",
        "sshd.client_auth_fail",
        {"rhost": "1.2.3.4", "port": "5", "code": "3"},
    ),
    (
        P + "sshd[1]: Received disconnect from 2001:db8::7 port 40022:14: No more user authentication methods "
        "available. [preauth]",
        "sshd.auth_methods_exhausted",
        {"rhost": "2001:db8::7", "port": "40022", "code": "14"},
    ),
    (
        P + "ftpd[31277]: User unknown timed out after 900 seconds at Sat Jun 18 02:23:10 2005",
        "ftpd.login_timeout",
        {"seconds": "900"},
    ),
    ("Traceback (most recent call last):", "app.python_traceback", {}),
    (
        'Exception in thread "main" java.lang.IllegalStateException: boom',
        "app.java_exception",
        {"thread": "main", "exception": "java.lang.IllegalStateException"},
    ),
    ("2024-01-02 03:04:05,678 ERROR [main] app: request failed", "generic.error", {}),
    ('time=2024-01-02T03:04:05Z level=error msg="db down"', "generic.error", {}),
    ('{"ts": 1, "level": "error", "msg": "x"}', "generic.error", {}),
    ("2024/01/02 03:04:05 [error] 1234#0: *5 connect() failed (111: Connection refused)", "generic.error", {}),
    (P + "app[1]: error: cannot connect to redis", "generic.error", {}),
    ("2024-01-02 03:04:05 CRITICAL disk almost gone", "generic.critical", {}),
    (P + "logger: [crit] cache corrupted", "generic.critical", {}),
    ("2024-01-02 03:04:05 FATAL cannot continue", "generic.fatal", {}),
    ("panic: runtime error: invalid memory address or nil pointer dereference", "generic.fatal", {}),
]

NOT_MATCHING = [
    P + "sshd[1]: Received disconnect from 1.2.3.4 port 5:11: Bye Bye [preauth]",
    P + "sshd[1]: Received disconnect from 1.2.3.4 port 5:11: disconnected by user",
    P + "ftpd[2]: User alice timed out after 900 seconds at Sat Jun 18 02:23:10 2005",
    P + "sshd[1]: error: kex_exchange_identification: Connection closed by remote host",
    P + "sshd[1]: fatal: Write failed: Connection reset by peer [preauth]",
    P + "sshd[1]: Accepted publickey for deploy from 10.0.0.5 port 5555 ssh2",
    P + "sshd[1]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)",
    P + "systemd[1]: Started nginx.service - A high performance web server and a reverse proxy server.",
    P + "systemd[1]: nginx.service: Deactivated successfully.",
    P + "kernel: EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: errors=remount-ro",
    P + "kernel: XFS (sda1): Mounting V5 Filesystem",
    P + "kernel: ata1.00: configured for UDMA/133",
    P + "chronyd[600]: Selected source 192.0.2.1 (2.debian.pool.ntp.org)",
    P + "systemd-timesyncd[500]: Initial synchronization to time server 91.189.89.198:123 (ntp.ubuntu.com).",
    P + "CRON[123]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    P + "dhclient[1]: DHCPACK of 10.0.0.5 from 10.0.0.1",
    '10.0.0.1 - - [01/Mar/2026:10:00:00 +0000] "GET /errors/list?level=debug HTTP/1.1" 200 512 "-" "curl/8.0"',
    "2024-01-02 03:04:05,678 INFO app: no errors found during self-check",
    "2024-01-02 03:04:05,678 INFO app: terror level is low, mirrors are fine",
    "2024-01-02 03:04:05,678 WARNING app: retrying request",
    P + "app[1]: INFO: task list refreshed",
    P + "kernel: usb 1-1: new high-speed USB device number 2 using ehci-pci",
]


@pytest.mark.parametrize(
    ("line", "rule_id", "fields"), MATCHING, ids=[f"{r}-{i}" for i, (_, r, _) in enumerate(MATCHING)]
)
def test_line_matches_its_rule(rules: RuleSet, line: str, rule_id: str, fields: dict[str, str]) -> None:
    found = rules.match(line, "/var/log/syslog")
    assert found is not None, f"no rule matched {line!r}"
    rule, got = found
    assert rule.id == rule_id
    assert {k: got.get(k) for k in fields} == fields


@pytest.mark.parametrize("line", NOT_MATCHING)
def test_look_alike_matches_nothing(rules: RuleSet, line: str) -> None:
    found = rules.match(line, "/var/log/syslog")
    assert found is None, f"{found[0].id if found else None} matched {line!r}"


def test_pack_covers_the_categories_of_the_issue(rules: RuleSet) -> None:
    ids = {rule.id for rule in rules.rules}
    for needed in (
        "kernel.oom_kill",
        "disk.io_error",
        "fs.error",
        "kernel.segfault",
        "systemd.unit_start_failed",
        "systemd.unit_failed",
        "sshd.failed_password",
        "sshd.invalid_user",
        "sshd.break_in_attempt",
        "pam.auth_failure",
        "disk.no_space",
        "time.ntp_sync_lost",
        "generic.error",
        "generic.critical",
        "generic.fatal",
    ):
        assert needed in ids


def test_every_rule_has_both_names_and_a_prefilter(rules: RuleSet) -> None:
    for rule in rules.rules:
        assert rule.name_zh and rule.name_en
        assert rule.prefilter is not None, f"{rule.id} would run its regex on every line"


def brute_force(rules: RuleSet, text: str, source: str) -> tuple[Rule, dict[str, str]] | None:
    """First match without any prefilter: what the index must never change."""
    for rule in rules.rules:
        if not rule.applies_to(source):
            continue
        fields = rule.fields_of(text)
        if fields is None or any(x.found(text) for x in rule.excludes):
            continue
        return rule, fields
    return None


def test_prefilters_never_change_the_result(rules: RuleSet, openssh_lines: list[str], linux_lines: list[str]) -> None:
    lines = openssh_lines + linux_lines + [line for line, _, _ in MATCHING] + NOT_MATCHING
    # The same lines with the syslog prefix and sshd tag removed, and glued to punctuation.
    lines += [line.split(": ", 1)[-1] for line in lines] + ["x" + line + "é" for line in lines[:500]]
    for line in lines:
        fast, slow = rules.match(line, "syslog"), brute_force(rules, line, "syslog")
        assert (fast and fast[0].id) == (slow and slow[0].id), line
