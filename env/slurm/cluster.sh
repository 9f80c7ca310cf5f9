#!/usr/bin/env bash
# A real single-node SLURM on this machine, for trying the workflow's SLURM profile (and for CI).
#
#   sudo env/slurm/cluster.sh install  only install the Debian/Ubuntu packages (up does it too)
#   sudo env/slurm/cluster.sh up       install, configure, start
#   sudo env/slurm/cluster.sh status   which of its daemons run
#   sudo env/slurm/cluster.sh down     stop exactly the daemons `up` started
#
# `up` installs slurm-wlm, slurmdbd, munge and mariadb-server, then starts, directly (no
# systemd), munged, MariaDB, slurmdbd (sacct, which the executor plugin polls, needs it),
# slurmctld and slurmd, and records each pid in $STATE. Partitions: `cpu` (default) and
# `gpu` on this node, and `gpu` also holds a node `gpu-absent` with one GPU that never comes
# up: a job asking for a GPU is accepted and stays pending, so a submission's GPU request can
# be read back (`scontrol show job`) on a machine without one. Running `up` again with
# everything up does nothing; `down` leaves the packages and configuration in place.
set -euo pipefail

STATE=${ZEGCLIP_SLURM_STATE:-/var/lib/zegclip-slurm}  # pids, logs, spool, the database password
CLUSTER=zegclip
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; stopped in reverse
PACKAGES=(slurm-wlm slurmdbd slurm-client munge mariadb-server)

die() { echo "env/slurm/cluster.sh: error: $*" >&2; exit 1; }
say() { echo "env/slurm/cluster.sh: $*"; }

alive() {  # alive NAME: its recorded pid runs that program
    local pidfile=$STATE/$1.pid pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ -r /proc/$pid/comm ]] && [[ $(</proc/"$pid"/comm) == "${1:0:15}" ]]
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 5; i++)); do
        "$@" > /dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "$what did not come up within ${limit} s (logs: $STATE/log)"
}

record_pidfile() {  # record_pidfile NAME FILE: copy a daemon's own pid file into $STATE
    wait_for 20 "$1's pid file" test -s "$2"
    cp "$2" "$STATE/$1.pid"
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get > /dev/null || die "needs apt-get (Debian or Ubuntu) to install ${missing[*]}"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" > "$STATE/log/apt.log" 2>&1 ||
        { apt-get update -q > "$STATE/log/apt.log" 2>&1 &&
          apt-get install -y -q --no-install-recommends "${missing[@]}" >> "$STATE/log/apt.log" 2>&1; } ||
        die "installing ${missing[*]} failed (log: $STATE/log/apt.log)"
}

write_config() {
    local host cpus mem_mb pass
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
    [[ -s $STATE/db.pass ]] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$STATE/db.pass"; chmod 600 "$STATE/db.pass"; }
    pass=$(<"$STATE/db.pass")
    mkdir -p /etc/slurm "$STATE/spool/ctld" "$STATE/spool/d"
    cat > /etc/slurm/slurm.conf <<EOF
# written by zegclip's env/slurm/cluster.sh
ClusterName=$CLUSTER
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
SchedulerParameters=sched_interval=2
MinJobAge=300
DefMemPerCPU=1000
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
NodeName=gpu-absent NodeAddr=127.0.0.2 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=FUTURE
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host,gpu-absent MaxTime=INFINITE State=UP
EOF
    : > /etc/slurm/gres.conf  # this node has no GPU
    cat > /etc/slurm/slurmdbd.conf <<EOF
# written by zegclip's env/slurm/cluster.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$pass
StorageLoc=slurm_acct_db
EOF
    chmod 600 /etc/slurm/slurmdbd.conf
}

start_munge() {
    alive munged && return 0
    if munge -n 2> /dev/null | unmunge > /dev/null 2>&1; then say "using the munged already running"; return 0; fi
    [[ -s /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge /var/lib/munge /var/log/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    record_pidfile munged /run/munge/munged.pid
    wait_for 10 munge bash -c 'munge -n | unmunge'
}

start_mariadb() {
    if alive mariadbd; then
        :
    elif mariadb -e "select 1" > /dev/null 2>&1; then
        say "using the MariaDB server already running"  # (a package's own start); not ours to stop
    else
        install -d -o mysql -g mysql /run/mysqld
        rm -f /run/mysqld/zegclip.pid
        [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql > "$STATE/log/mariadb-install.log" 2>&1
        setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --socket=/run/mysqld/mysqld.sock \
            --pid-file=/run/mysqld/zegclip.pid > "$STATE/log/mariadb.log" 2>&1 < /dev/null &
        record_pidfile mariadbd /run/mysqld/zegclip.pid
        wait_for 30 MariaDB mariadb -e "select 1"
    fi
    mariadb <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$(<"$STATE/db.pass")';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$(<"$STATE/db.pass")';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

start_slurm() {
    if ! alive slurmdbd; then
        /usr/sbin/slurmdbd
        record_pidfile slurmdbd "$STATE/run/slurmdbd.pid"
        wait_for 30 slurmdbd sacctmgr -n list cluster
    fi
    sacctmgr -n list cluster format=cluster | grep -qw "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" > /dev/null
    sacctmgr -n list account format=account | grep -qw "$CLUSTER" ||
        sacctmgr -i add account "$CLUSTER" description="zegclip CI" organization=zegclip > /dev/null
    sacctmgr -n list user format=user | grep -qw "$(id -un)" ||
        sacctmgr -i add user "$(id -un)" account="$CLUSTER" defaultaccount="$CLUSTER" > /dev/null
    if ! alive slurmctld; then
        /usr/sbin/slurmctld
        record_pidfile slurmctld "$STATE/run/slurmctld.pid"
        wait_for 30 slurmctld scontrol ping
    fi
    if ! alive slurmd; then
        /usr/sbin/slurmd
        record_pidfile slurmd "$STATE/run/slurmd.pid"
    fi
    local host
    host=$(hostname -s)
    scontrol update nodename="$host" state=resume > /dev/null 2>&1 || true  # after an unclean stop
    wait_for 30 "node $host" bash -c "sinfo -h -n '$host' -o %t | grep -Eq '^(idle|mix|alloc)'"
}

as_root() {
    [[ $(id -u) == 0 ]] || die "must run as root (it installs packages and starts system daemons)"
    mkdir -p "$STATE/log" "$STATE/run"
}

up() {
    as_root
    install_packages
    write_config
    start_munge
    start_mariadb
    start_slurm
    say "up: cluster $CLUSTER, partitions $(sinfo -h -o %P | sort -u | tr '\n' ' ')(pids and logs: $STATE)"
}

status() {
    local d
    for d in "${DAEMONS[@]}"; do
        if alive "$d"; then echo "$d running (pid $(<"$STATE/$d.pid"))"; else echo "$d not running"; fi
    done
}

down() {
    local i d pid
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        d=${DAEMONS[i]}
        alive "$d" || { rm -f "$STATE/$d.pid"; continue; }
        pid=$(<"$STATE/$d.pid")
        kill "$pid"
        for _ in $(seq 100); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
        [[ -d /proc/$pid ]] && kill -9 "$pid"
        rm -f "$STATE/$d.pid"
        say "stopped $d (pid $pid)"
    done
}

case "${1:-}" in
    install) as_root; install_packages ;;
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 install|up|status|down" >&2; exit 2 ;;
esac
