#!/usr/bin/env bash
# Git jobs over SSH: an sshd on 127.0.0.1 with a host key made here, and
# an ssh agent holding the user's key.  sshd runs only as root (it needs
# its privilege-separation directory and to switch users).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP sshd as a test server needs root"
	_done=1
	exit 0
fi
for t in /usr/sbin/sshd ssh-keygen ssh-agent ssh-add; do
	command -v "$t" >/dev/null || {
		echo "1..0 # SKIP $t is not installed (openssh-server, openssh-client)"
		_done=1
		exit 0
	}
done
. "$TEST_DIR/git-lib.sh"

make_origin origin
ssh-keygen -q -t ed25519 -N '' -C q-test-host -f hostkey
ssh-keygen -q -t ed25519 -N '' -C q-test-user -f userkey
ssh-keygen -q -t ed25519 -N '' -C q-test-other -f otherkey
cp userkey.pub authorized_keys
port=$(free_port)
cat >sshd_config <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $scratch/hostkey
PidFile $scratch/sshd.pid
AuthorizedKeysFile $scratch/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
CFG
mkdir -p /run/sshd # privilege separation; where Debian's sshd wants it
/usr/sbin/sshd -D -e -f "$scratch/sshd_config" 2>sshd.log &
sshd_pid=$!
check "sshd listens on 127.0.0.1" wait_for "grep -q 'Server listening' sshd.log" 10 ||
	bail_out "sshd did not start: $(cat sshd.log)"
export SSH_AUTH_SOCK=$scratch/agent.sock
ssh-agent -D -a "$SSH_AUTH_SOCK" >/dev/null &
agent_pid=$!
wait_for "test -S '$SSH_AUTH_SOCK'" 5 || bail_out "ssh-agent did not start"
ssh-add -q userkey 2>/dev/null || bail_out "ssh-add failed"
url=ssh://root@127.0.0.1:$port$scratch/origin.git

# --- host keys are checked ---------------------------------------------------------

mkdir -p .ssh
run_q git clone --sync "$url" s0
is "$rc" 1 "a host that is not in known_hosts: the clone fails"
id=$(first)
like "$(result "$id" 'j["result"]["error"]')" \
	"ssh host key of '127.0.0.1' is unknown or has changed: it must be in ~/.ssh/known_hosts \\('$scratch/.ssh/known_hosts'" \
	"and the error names known_hosts"
is "$(result "$id" 'len(j["history"])')" 1 "an unknown host key is not tried again"
check "nothing was cloned" test ! -e s0

echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 otherkey.pub)" >.ssh/known_hosts
run_q git clone --sync "$url" s0
is "$rc" 1 "a host key that differs from known_hosts: fails"
like "$(result "$(first)" 'j["result"]["error"]')" "unknown or has changed" "and says so"

echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 hostkey.pub)" >.ssh/known_hosts

# --- the agent's key ------------------------------------------------------------------

run_q git clone --sync "$url" s1
is "$rc" 0 "clone over ssh with the agent's key"
is "$(git -C s1 rev-parse HEAD)" "$(git -C origin.git rev-parse main)" "the clone is whole"

local_commit s1 ssh
run_q -C s1 git push --sync
is "$rc" 0 "push over ssh"
is "$(git -C origin.git rev-parse main)" "$(git -C s1 rev-parse HEAD)" "the remote's main moved"

refuse_pushes origin.git "no pushes over ssh today"
local_commit s1 again
run_q -C s1 git push --sync
is "$rc" 1 "a push the remote's hook refuses fails"
like "$(result "$(first)" 'j["result"]["error"]')" "pre-receive hook declined.*no pushes over ssh today" \
	"with the hook's message"
rm origin.git/hooks/pre-receive

ssh-add -q -D 2>/dev/null
ssh-add -q otherkey 2>/dev/null
: >sshd.log
run_q git clone --sync "$url" s2
is "$rc" 1 "an agent whose keys the server refuses: fails"
id=$(first)
like "$(result "$id" 'j["result"]["error"]')" "the server refused the keys of the ssh agent" "and says so"
is "$(result "$id" 'len(j["history"])')" 1 "once: a refused key is not tried again"
n=$(grep -c 'Connection closed by authenticating user' sshd.log)
[ "$n" -le 1 ]
ok $? "one connection to the server ($n)"

SSH_AUTH_SOCK=$scratch/gone.sock run_q git clone --sync "$url" s2
is "$rc" 1 "an agent that is gone: fails"
like "$(result "$(first)" 'j["result"]["error"]')" "the ssh agent is gone" "and says so"

kill "$sshd_pid" "$agent_pid"
wait "$sshd_pid" "$agent_pid" 2>/dev/null
done_testing
