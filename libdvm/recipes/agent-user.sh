# Description: the dvm-agent user that AI tools run as, its Bubblewrap launcher dvm-ai-bwrap, and the ACLs (needed before codex, claude, opencode, mistral)
#
# Runs when it changed (like every recipe); its dvm_every_sync part (at the end: the ACLs)
# runs at every sync, even unchanged: the deny ACLs must also cover the main user's secret
# files created since the last sync, a code directory made again needs its ACLs, and the AI
# recipes need DVM_AGENT_HOME and DVM_AGENT_READY.
#
# Sets up, for the AI recipes that follow it:
# - the system user $DVM_AGENT_USER (default dvm-agent), with <agent home>/scratch (0700);
# - /usr/local/libexec/dvm-ai-bwrap, which runs a tool as that user inside Bubblewrap: new
#   pid/ipc/uts namespaces, /usr and /etc read-only, a private /tmp, the agent's home, and the
#   code directory at /workspace; the main user's home is not mounted; the environment is
#   rebuilt from nothing. There is no mode without Bubblewrap;
# - dvm_agent_write_wrapper NAME TARGET [ARGS...], which writes /usr/local/bin/NAME so that
#   running NAME goes through dvm-ai-bwrap;
# - ACLs: the agent may traverse (--x) the main home and the directories down to the code
#   directory; the agent and the main user get rwx (and default rwx) on the code directory;
#   the agent gets --- (recursively, and as default ACL on directories) on the main user's
#   secret paths that exist. The ACLs are a guardrail, not the sandbox: the sandbox never
#   mounts the main home at all.

local agent="${DVM_AGENT_USER:-dvm-agent}" code="${DVM_CODE_DIR:-}"
local main_home agent_home p
dvm_validate_user_name "$agent" "agent_user"
if [ "$agent" = "$DVM_USER" ] || [ "$agent" = root ]; then
	dvm_die "agent_user must be a separate user, not '$agent'"
	return
fi
if [ -z "$code" ]; then
	dvm_die "DVM_CODE_DIR is not set"
	return
fi
dvm_validate_abs_path "$code" "code_dir"

dvm_pkg_install acl bubblewrap shadow-utils sudo

if ! getent passwd "$agent" >/dev/null; then
	dvm_info "creating the system user $agent"
	# A system account: no subuid/subgid ranges are allocated for it.
	sudo useradd --system --create-home --user-group --shell /bin/bash "$agent"
fi
agent_home="$(dvm_user_home "$agent")"
main_home="$(dvm_user_home "$DVM_USER")"
dvm_validate_abs_path "$agent_home" "home of $agent"
case "$agent_home/" in
/ | "$main_home"/* | "$code"/*)
	dvm_die "the home of $agent ($agent_home) must not be /, the main home or inside the code directory"
	return
	;;
esac
case "$main_home/" in
"$code"/*)
	dvm_die "code_dir ($code) must not contain the home of $DVM_USER"
	return
	;;
esac
# The agent's home is attacker-controlled: dvm_ensure_dir refuses a symbolic link there
# (e.g. ~/scratch -> /etc), naming it, and fixes what it may as the agent.
dvm_ensure_dir "$agent_home" 0700 "$agent"
dvm_ensure_dir "$agent_home/scratch" 0700 "$agent"
dvm_ensure_dir /usr/local/libexec 0755 root:root
dvm_write_file /usr/local/libexec/dvm-ai-bwrap 0755 root:root <<'DVM_AI_BWRAP'
#!/bin/bash
# dvm-ai-bwrap: runs an AI tool as the DVM agent user inside Bubblewrap.
# Written by the dvm agent-user recipe; a sync overwrites local changes.
#
# usage: dvm-ai-bwrap --user AGENT --home AGENT_HOME --code-dir CODE_DIR [--workdir DIR]
#                     -- TARGET [ARGS...]
#
# Inside: /usr, /etc and /opt read-only, a fresh /dev, /proc and /tmp, the agent's home
# (read-write) and CODE_DIR at /workspace (read-write), the working directory mapped into
# /workspace. New pid, ipc, uts (and cgroup) namespaces; the network is shared. The main
# user's home is never mounted; the environment is rebuilt from nothing. There is no mode
# without Bubblewrap: when bwrap is missing or fails, the tool does not run.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
BWRAP=/usr/bin/bwrap

die() {
	printf 'dvm-ai-bwrap: %s\n' "$*" >&2
	exit 1
}
usage() {
	printf '%s\n' 'usage: dvm-ai-bwrap --user AGENT --home AGENT_HOME --code-dir CODE_DIR [--workdir DIR] -- TARGET [ARGS...]' >&2
	exit 2
}

agent='' home='' code='' workdir="${PWD:-/}"
while [ "$#" -gt 0 ]; do
	case "$1" in
	--user | --home | --code-dir | --workdir)
		[ "$#" -ge 2 ] || usage
		case "$1" in
		--user) agent="$2" ;;
		--home) home="$2" ;;
		--code-dir) code="$2" ;;
		--workdir) workdir="$2" ;;
		esac
		shift 2
		;;
	--)
		shift
		break
		;;
	*) usage ;;
	esac
done
[ "$#" -ge 1 ] || usage
target="$1"
shift
if [ -z "$agent" ] || [ -z "$home" ] || [ -z "$code" ]; then
	usage
fi

[[ "$agent" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "invalid agent user name: $agent"
for p in "$home" "$code" "$target" "$workdir"; do
	case "$p" in
	/*) ;;
	*) die "not an absolute path: $p" ;;
	esac
	if [[ "$p" =~ [[:cntrl:]] ]]; then
		die "control characters in a path argument"
	fi
done
[ -x "$BWRAP" ] || die "missing $BWRAP (install bubblewrap); refusing to run without the sandbox"

entry="$(getent passwd "$agent")" || die "no such user: $agent"
IFS=: read -r _ _ agent_uid _ _ agent_home _ <<<"$entry"
[ "$agent_uid" != 0 ] || die "refusing to run the tool as root"
caller="$(id -un)"
[ "$agent" != "$caller" ] || die "the agent user must differ from the calling user ($caller)"
[ "$home" = "$agent_home" ] || die "$home is not the home of $agent ($agent_home)"
caller_home="$(getent passwd "$caller" | cut -d: -f6)" || caller_home=''

code_real="$(realpath -e -- "$code")" || die "code directory does not exist: $code"
[ -d "$code_real" ] || die "not a directory: $code"
case "$code_real" in
/ | /usr | /usr/* | /etc | /etc/* | /proc | /proc/* | /sys | /sys/* | /dev | /dev/* | /home | /root)
	die "refusing to expose $code_real as the workspace"
	;;
esac
if [ -n "$caller_home" ]; then
	case "$caller_home/" in
	"$code_real"/*) die "the code directory $code_real contains the home of $caller; refusing to expose it" ;;
	esac
fi
case "$home/" in
"$code_real"/*) die "the code directory $code_real contains the agent's home" ;;
esac

# The working directory, mapped into /workspace (outside the code directory: /workspace).
wd="$(realpath -m -- "$workdir")"
case "$wd/" in
"$code_real"/*) sandbox_wd="/workspace${wd#"$code_real"}" ;;
*) sandbox_wd=/workspace ;;
esac

lang="${LANG:-C.UTF-8}"
[[ "$lang" =~ ^[A-Za-z0-9_.@-]+$ ]] || lang=C.UTF-8
term="${TERM:-xterm-256color}"
[[ "$term" =~ ^[A-Za-z0-9_.+-]+$ ]] || term=xterm-256color

as_agent() {
	sudo -n -H -u "$agent" -- /usr/bin/env -i "$@"
}

# A new pid namespace wants a new /proc. Some nested sandboxes refuse to mount one; only
# then, bind the existing /proc read-only. Bubblewrap itself is never skipped.
if as_agent "$BWRAP" --unshare-pid --ro-bind / / --proc /proc -- /usr/bin/true >/dev/null 2>&1; then
	proc=(--proc /proc)
else
	printf '%s\n' 'dvm-ai-bwrap: note: cannot mount a new /proc here; using a read-only view of the existing one' >&2
	proc=(--ro-bind /proc /proc)
fi

args=(--die-with-parent --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try
	--clearenv --ro-bind /usr /usr)
for d in bin sbin lib lib64 lib32 libx32; do
	if [ -L "/$d" ]; then
		args+=(--symlink "$(readlink "/$d")" "/$d")
	elif [ -d "/$d" ]; then
		args+=(--ro-bind "/$d" "/$d")
	fi
done
args+=(--ro-bind /etc /etc --ro-bind-try /opt /opt
	"${proc[@]}" --dev /dev --tmpfs /tmp
	--dir /var --symlink ../tmp /var/tmp
	--dir /run --ro-bind-try /run/systemd/resolve /run/systemd/resolve
	--ro-bind-try /run/NetworkManager /run/NetworkManager
	--bind "$home" "$home" --bind "$code_real" /workspace --chdir "$sandbox_wd"
	--setenv HOME "$home" --setenv USER "$agent" --setenv LOGNAME "$agent"
	--setenv SHELL /bin/bash --setenv PATH "$home/.local/bin:/usr/local/bin:/usr/bin"
	--setenv LANG "$lang" --setenv TERM "$term" --setenv DVM_CODE_DIR /workspace)
exec sudo -n -H -u "$agent" -- /usr/bin/env -i "$BWRAP" "${args[@]}" -- "$target" "$@"
DVM_AI_BWRAP

# Git inside the sandbox sees /workspace owned by an unmapped user: mark it safe for the agent.
if command -v git >/dev/null 2>&1; then
	local safe
	safe="$(dvm_as_agent git config --global --get-all safe.directory 2>/dev/null)" || safe=''
	for p in /workspace '/workspace/*'; do
		if ! printf '%s\n' "$safe" | grep -qxF -- "$p"; then
			dvm_as_agent git config --global --add safe.directory "$p"
		fi
	done
fi

# --- at every sync (dvm_every_sync) --------------------------------------------------------

# The ACLs, and the variables the AI recipes after this one need, at every sync: also when
# this recipe is unchanged and skipped. When the agent user or its launcher has gone since
# the recipe ran, this fails, and the next sync runs the whole recipe again.
#
# - The code directory: rwx (X on files: only those already executable) for both users, and
#   default rwx on every directory so new files stay shared; traverse (--x) for the agent on
#   the main home and every directory from there down to the code directory's parent. The
#   tree is walked only when the code directory itself lacks an entry (the first time, or a
#   code directory made again since); new files inherit the default ACL after that (`dvm cp`
#   refreshes the ACLs on what it copies in).
# - The main user's secret paths: --- for the agent, recursively, plus a default ACL on
#   directories so files created in them later are denied as well. The main home is not
#   writable by the agent, so a link there is the user's own (e.g. a dotfiles manager's) and
#   its target is denied too (setfacl and find -H follow a link given as the argument).
# - DVM_AGENT_HOME and DVM_AGENT_READY, for dvm_require_agent_user, dvm_agent_write_wrapper
#   and dvm_agent_npm_install (_helpers.sh).
# shellcheck disable=SC2317 # dvm sync calls it (on its own, after the recipe or instead of it)
dvm_every_sync() {
	local agent="${DVM_AGENT_USER:-dvm-agent}" code="${DVM_CODE_DIR:-}" agent_home main_home dir acl p rel=0
	local -a secret_paths=()
	if ! getent passwd "$agent" >/dev/null || [ ! -x /usr/local/libexec/dvm-ai-bwrap ]; then
		dvm_die "the agent user $agent or /usr/local/libexec/dvm-ai-bwrap is missing: the next sync sets them up again"
		return
	fi
	dvm_validate_abs_path "$code" "code_dir"
	agent_home="$(dvm_user_home "$agent")"
	main_home="$(dvm_user_home "$DVM_USER")"

	if [ ! -d "$code" ]; then
		mkdir -p -- "$code"
	fi
	acl="$(sudo -n getfacl -cpE -- "$code")"
	for p in "user:$agent:rwx" "user:$DVM_USER:rwx" "default:user:$agent:rwx" "default:user:$DVM_USER:rwx"; do
		case $'\n'"$acl"$'\n' in
		*$'\n'"$p"$'\n'*) ;;
		*) rel=1 ;;
		esac
	done
	if [ "$rel" = 1 ]; then
		# The walk runs as root: the directories above the code directory must be real
		# directories that only root and $DVM_USER can change, and the code directory no link.
		if sudo -n test -L "$code"; then
			dvm_die "code_dir ($code) is a symbolic link; set code_dir to the directory it points to"
			return
		fi
		dvm_check_parents "$code" "$DVM_USER"
		# Traverse: the main home, the code directory's parent, and the directories between.
		dvm_acl_grant "$main_home" "u:$agent:--x"
		dir="$(dirname -- "$code")"
		if [ "$dir" != / ]; then
			dvm_acl_grant "$dir" "u:$agent:--x"
		fi
		while dir="$(dirname -- "$dir")"; do
			case "$dir/" in
			"$main_home"/?*) dvm_acl_grant "$dir" "u:$agent:--x" ;;
			*) break ;;
			esac
		done
		dvm_info "granting $agent and $DVM_USER rwx on $code"
		# The agent can write in the code directory: the walk never follows a symbolic link in
		# it (setfacl -P, find -P and -type d), so a link to the main home gains no ACL there.
		sudo -n setfacl -R -P -m "u:$agent:rwX,u:$DVM_USER:rwX" -- "$code"
		sudo -n find -P "$code" -type d -exec setfacl -P -m "d:u:$agent:rwx,d:u:$DVM_USER:rwx" -- {} +
	fi

	for p in .ssh .gnupg .npmrc .gitconfig .bash_history .zsh_history .config/git .config/gh \
		.config/op .config/dvm .netrc .aws .docker/config.json .kube; do
		if [ -e "$main_home/$p" ]; then secret_paths+=("$main_home/$p"); fi
	done
	if [ "${#secret_paths[@]}" -gt 0 ]; then
		sudo -n setfacl -R -m "u:$agent:---" -- "${secret_paths[@]}"
		sudo -n find -H "${secret_paths[@]}" -type d -exec setfacl -m "d:u:$agent:---" -- {} +
	fi
	# shellcheck disable=SC2034 # read by dvm_require_agent_user and the AI recipes
	DVM_AGENT_HOME="$agent_home" DVM_AGENT_READY=1
}
