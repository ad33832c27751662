# ruff: noqa: E501  (command outputs are kept verbatim)
"""Command outputs captured on real systems other than this one (older tools, other layouts)."""

# uname -a
UNAME_DEBIAN = "Linux db-01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n"
UNAME_CENTOS7 = ("Linux app-02 3.10.0-1160.el7.x86_64 #1 SMP Mon Oct 19 16:18:59 UTC 2020 x86_64 x86_64 x86_64 "
                 "GNU/Linux\n")
UNAME_ARM = "Linux pi 6.1.21-v8+ #1642 SMP PREEMPT Mon Apr  3 17:24:16 BST 2023 aarch64 GNU/Linux\n"
UNAME_BUSYBOX = "Linux OpenWrt 5.15.134 #0 SMP Mon Nov 13 14:38:11 2023 mips GNU/Linux\n"

# uptime (the fallback where /proc/uptime is missing)
UPTIMES = {
    " 10:01:02 up 3 days,  4:05,  2 users,  load average: 0.00, 0.01, 0.05\n": 3 * 86400 + 4 * 3600 + 5 * 60,
    " 10:01:02 up 17 min,  1 user,  load average: 0.10, 0.20, 0.30\n": 17 * 60,
    " 10:01:02 up 2 days, 17 min,  1 user,  load average: 0.10, 0.20, 0.30\n": 2 * 86400 + 17 * 60,
    " 10:01:02 up  5:03,  1 user,  load average: 0.10, 0.20, 0.30\n": 5 * 3600 + 3 * 60,
    " 10:01:02 up 1 day,  1:01,  0 users,  load average: 0.00, 0.00, 0.00\n": 86400 + 3600 + 60,
}

# /proc/stat, two readings 10 s apart on a 4-CPU guest (USER_HZ 100)
PROC_STAT_1 = """cpu  100000 500 40000 800000 6000 0 1500 200 0 0
cpu0 25000 125 10000 200000 1500 0 375 50 0 0
cpu1 25000 125 10000 200000 1500 0 375 50 0 0
cpu2 25000 125 10000 200000 1500 0 375 50 0 0
cpu3 25000 125 10000 200000 1500 0 375 50 0 0
intr 123456 0 0
ctxt 987654
btime 1717000000
processes 4242
procs_running 2
procs_blocked 0
"""
PROC_STAT_2 = """cpu  102000 500 41000 803600 6300 0 1580 220 0 0
cpu0 25500 125 10250 200900 1575 0 395 55 0 0
cpu1 25500 125 10250 200900 1575 0 395 55 0 0
cpu2 25500 125 10250 200900 1575 0 395 55 0 0
cpu3 25500 125 10250 200900 1575 0 395 55 0 0
btime 1717000000
"""

# /proc/meminfo of a CentOS 6 kernel (2.6.32): no MemAvailable yet
MEMINFO_OLD = """MemTotal:        1922300 kB
MemFree:          120000 kB
Buffers:           50000 kB
Cached:           800000 kB
SwapCached:            0 kB
Active:          1000000 kB
SwapTotal:       2097148 kB
SwapFree:        2000000 kB
"""
MEMINFO_NO_SWAP = """MemTotal:       16303412 kB
MemFree:         1234567 kB
MemAvailable:   12000000 kB
Buffers:          200000 kB
Cached:          9000000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
HugePages_Total:       0
"""

# /proc/mounts and df -P / df -P -i of a Docker host with NFS, a bind mount, a CD and a mount with a space
MOUNTS = """/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=1631280k,mode=755 0 0
/dev/sda1 /var/lib/docker ext4 rw,relatime 0 0
overlay /var/lib/docker/overlay2/3f2a/merged overlay rw,relatime,lowerdir=/x 0 0
fileserver:/export/home /mnt/home nfs4 rw,relatime,vers=4.2 0 0
/dev/sdb1 /data\\040disk xfs rw,relatime 0 0
/dev/sr0 /media/cdrom iso9660 ro,relatime 0 0
/dev/mapper/vg0-var /var btrfs rw,relatime 0 0
"""
DF_P = """Filesystem          1024-blocks     Used Available Capacity Mounted on
/dev/sda1              41152736 16449280  22584176      43% /
tmpfs                   1631280     1712   1629568       1% /run
/dev/sda1              41152736 16449280  22584176      43% /var/lib/docker
overlay                41152736 16449280  22584176      43% /var/lib/docker/overlay2/3f2a/merged
fileserver:/export/home 104857600 52428800 52428800      50% /mnt/home
/dev/sdb1             976284628 97628462 878656166      11% /data disk
/dev/sr0                  60456    60456         0     100% /media/cdrom
/dev/mapper/vg0-var    20971520  5242880  15728640      25% /var
"""
DF_PI = """Filesystem            Inodes   IUsed    IFree IUse% Mounted on
/dev/sda1              2621440  310000  2311440   12% /
tmpfs                   407820     800   407020    1% /run
/dev/sda1              2621440  310000  2311440   12% /var/lib/docker
/dev/sdb1            488281600  100000 488181600    1% /data disk
/dev/sr0                     0       0        0     - /media/cdrom
/dev/mapper/vg0-var          0       0        0     - /var
"""
DF_P_512 = """Filesystem     512-blocks      Used Available Capacity Mounted on
/dev/sda1        82305472  32898560  45168352      43% /
"""

# ip -s link of iproute2 4.11 (CentOS 7): "overrun" where newer versions say "missed"
IP_LINK_OLD = """1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    RX: bytes  packets  errors  dropped overrun mcast
    3474       42       0       0       0       0
    TX: bytes  packets  errors  dropped carrier collsns
    3474       42       0       0       0       0
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP mode DEFAULT group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    RX: bytes  packets  errors  dropped overrun mcast
    987654321  654321   3       17      0       0
    TX: bytes  packets  errors  dropped carrier collsns
    123456789  234567   0       2       0       0
5: veth1a2b@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master docker0 state UP mode DEFAULT
    link/ether 9e:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    RX: bytes  packets  errors  dropped overrun mcast
    1000       10       0       0       0       0
    TX: bytes  packets  errors  dropped carrier collsns
    2000       20       0       0       0       0
"""
# ip -s link of iproute2 6.x with "missed" and an altname line
IP_LINK_NEW = """2: enp3s0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 9000 qdisc fq_codel state DOWN mode DEFAULT group default qlen 1000
    link/ether 00:25:90:aa:bb:cc brd ff:ff:ff:ff:ff:ff
    altname enx002590aabbcc
    RX:  bytes packets errors dropped  missed   mcast
         50000     400      1       2       5       0
    TX:  bytes packets errors dropped carrier collsns
         60000     500      0       3       0       0
"""
PROC_NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3474      42    0    0    0     0          0         0     3474      42    0    0    0     0       0          0
  eth0: 987654321 654321    3   17    0     0          0      1200 123456789 234567    0    2    0     0       0          0
"""
IP_ADDR = """1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever
2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.0.0.6/24 brd 10.0.0.255 scope global secondary eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet6 fe80::5054:ff:fe12:3456/64 scope link \\       valid_lft forever preferred_lft forever
"""

# /proc/net/tcp (two listeners, one established, one time-wait) and /proc/net/tcp6 (one listener)
PROC_NET_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20386 1 0 100 0 0 10 0
   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 21871 1 0 100 0 0 10 0
   2: 0500000A:0016 0100000A:D8F2 01 00000000:00000000 02:0009E6D4 00000000     0        0 43211 4 0 20 4 29 10 -1
   3: 0500000A:A1B2 0200000A:01BB 06 00000000:00000000 03:000016C3 00000000     0        0 0 3 0
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000
"""
SS_S_NEW = """Total: 80
TCP:   60 (estab 2, closed 36, orphaned 0, timewait 36)

Transport Total     IP        IPv6
RAW\t  0         0         0
UDP\t  0         0         0
TCP\t  24        12        12
INET\t  24        12        12
FRAG\t  0         0         0
"""
SS_S_OLD = """Total: 191 (kernel 0)
TCP:   10 (estab 4, closed 1, orphaned 0, synrecv 0, timewait 1/0), ports 0

Transport Total     IP        IPv6
*         0         -         -
RAW       0         0         0
"""

# systemctl --failed --no-legend --plain (systemd 252) and the bullet of versions that ignore --plain
FAILED_UNITS = """nginx.service      loaded failed failed A high performance web server
backup-db.timer    loaded failed failed Nightly database backup
"""
FAILED_UNITS_BULLET = "● mariadb.service loaded failed failed MariaDB 10.11 database server\n"

CPUINFO_2x2 = """processor\t: 0
model name\t: Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz
physical id\t: 0
core id\t\t: 0

processor\t: 1
model name\t: Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz
physical id\t: 0
core id\t\t: 1

processor\t: 2
model name\t: Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz
physical id\t: 0
core id\t\t: 0

processor\t: 3
model name\t: Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz
physical id\t: 0
core id\t\t: 1
"""
OS_RELEASE_CENTOS = """NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
"""
