# Description: shared helpers for the bundled recipes (pasted once before the recipes)
# shellcheck disable=SC2034 # (whole file) globals set here are read by the recipes
#
# This file is not a recipe. The guest program pastes it once, after its strict mode
# (`set -euo pipefail`) and its exported settings, and before the first recipe. Every recipe
# runs inside a shell function of the same shell, so the functions below are available to all
# of them, and to user recipes too.
#
# Rules these helpers follow, and that recipes should follow as well:
# - Never `exit`: a recipe ends early with `return`. A helper that finds an error prints a
#   message naming the recipe and returns non-zero; strict mode then stops the sync.
#   Call helpers as plain commands (not as `if helper`, `helper || ...` or `! helper`): bash
#   turns strict mode off inside functions called in such a context.
#   Read printed values with `var="$(helper ...)"`, never `local var="$(helper ...)"` (which
#   hides the helper's exit status); declare the variable first.
# - Never put a secret in the argv of any command. Secrets go through files and stdin, and
#   xtrace is off while a secret value is handled (dvm_xtrace_off / dvm_xtrace_restore).
# - Never follow a path the agent can write to (its home, the code directory) as root: use
#   dvm_write_file / dvm_ensure_dir (they refuse symbolic links), read the agent's files as
#   the agent (dvm_as_agent_read_file), and run nothing from there outside the sandbox.
# - Root work goes through `sudo`; packages through `dnf5`.
#
# API (details at each function):
#   dvm_die MSG...                   error naming the recipe, returns 1
#   dvm_warn MSG... / dvm_info MSG...
#   dvm_setting KEY [DEFAULT]        value of the [env] key (DVM_KEY), or DEFAULT
#   dvm_bool KEY DEFAULT             prints true/false for a boolean [env] key
#   dvm_validate_port|service|https_url|http_url|sha256|user_name|abs_path VALUE [WHAT]
#   dvm_sha256_of FILE               lower-case hex sha256 of a file
#   dvm_arch                         x86_64 or aarch64
#   dvm_user_home USER               home directory from the passwd database
#   dvm_write_file PATH MODE OWNER[:GROUP] <content
#                                    atomic write as OWNER, only when content/mode/owner
#                                    differ; sets DVM_CHANGED=1 when it wrote, 0 otherwise;
#                                    never through a symbolic link (see "files" below)
#   dvm_ensure_dir PATH MODE OWNER[:GROUP]
#   dvm_pkg_installed PKG / dvm_pkg_install PKG... / dvm_need_commands CMD:PKG...
#   dvm_dnf_addrepo URL REPO_FILE    add a .repo file once (dnf5 config-manager)
#   dvm_unit_enable_now UNIT         enable and start a systemd unit unless already so
#   dvm_add_user_to_group USER GROUP
#   dvm_download_verified URL SHA256 DEST
#   dvm_pinned_install NAME FORMAT URL SHA256 BIN...
#   dvm_require_agent_user           AI recipes: agent-user must have run before
#   dvm_as_agent CMD...              run a command as the agent user, in its home
#   dvm_agent_write_wrapper NAME TARGET [ARGS...]
#                                    /usr/local/bin/NAME runs TARGET through dvm-ai-bwrap
#   dvm_agent_npm_install PACKAGE    latest PACKAGE into the agent's ~/.local (npm)
#   dvm_as_agent_read_file PATH      the agent's file, read as the agent (links refused)
#   dvm_check_parents PATH OWNER     PATH's directories: no links, changeable by root/OWNER only
#   dvm_acl_has PATH ENTRY / dvm_acl_grant PATH ENTRY
#   dvm_xtrace_off / dvm_xtrace_restore
#                                    around code that handles a secret value (set -x)
#   dvm_toml_string VALUE            TOML basic string, quoted and escaped

# Run the last command of a pipeline in this shell, so `printf ... | dvm_write_file ...` can
# set DVM_CHANGED (job control is off in the guest program, which lastpipe needs).
shopt -s lastpipe

# PATH for the recipes: the login PATH without relative or empty entries and without entries
# inside the code directory or the agent's home (both writable by the agent), so no recipe
# runs a program the agent planted. Root's and the agent's commands get their own fixed PATH
# (sudo's secure_path, dvm_as_agent, the helpers' root-side scripts).
_dvm_clean_path() {
	local entry agent_home='' out='' ok
	local -a entries
	if [ -n "${DVM_AGENT_USER:-}" ]; then
		agent_home="$(getent passwd -- "$DVM_AGENT_USER" 2>/dev/null | cut -d: -f6)" || agent_home=''
	fi
	IFS=: read -r -a entries <<<"${PATH:-}"
	for entry in "${entries[@]}"; do
		ok=1
		case "$entry" in
		/*) ;;
		*) ok=0 ;;
		esac
		if [ -n "${DVM_CODE_DIR:-}" ]; then
			case "$entry/" in "${DVM_CODE_DIR%/}"/*) ok=0 ;; esac
		fi
		if [ -n "$agent_home" ] && [ "$agent_home" != / ]; then
			case "$entry/" in "${agent_home%/}"/*) ok=0 ;; esac
		fi
		[ "$ok" = 0 ] || out+="${out:+:}$entry"
	done
	PATH="${out:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
}
_dvm_clean_path

# Globals read by recipes.
# Where pinned downloads record what they installed.
DVM_PINS_DIR=/usr/local/share/dvm/pins
# Set by dvm_write_file / dvm_ensure_dir: 1 when something was changed, else 0.
DVM_CHANGED=0

# --- messages ------------------------------------------------------------------------------

dvm_die() {
	printf 'dvm recipe: error: %s: %s\n' "${DVM_RECIPE:-recipe}" "$*" >&2
	return 1
}

dvm_warn() {
	printf 'dvm recipe: warning: %s: %s\n' "${DVM_RECIPE:-recipe}" "$*" >&2
}

dvm_info() {
	printf '%s: %s\n' "${DVM_RECIPE:-recipe}" "$*"
}

# --- secrets and xtrace ---------------------------------------------------------------------

# Recipes run in one shell, so a user recipe's `set -x` stays on for the recipes after it.
# Around every line that handles a secret value: `dvm_xtrace_off`, then `dvm_xtrace_restore`
# (also before every return in between). Not nested: one secret block at a time.
_DVM_XTRACE_WAS=0
dvm_xtrace_off() {
	case $- in
	*x*) _DVM_XTRACE_WAS=1 ;;
	*) _DVM_XTRACE_WAS=0 ;;
	esac
	{ set +x; } 2>/dev/null
}

dvm_xtrace_restore() {
	if [ "$_DVM_XTRACE_WAS" = 1 ]; then
		_DVM_XTRACE_WAS=0
		set -x
	fi
}

# --- settings ------------------------------------------------------------------------------

# dvm_setting KEY [DEFAULT]: prints $DVM_KEY, or DEFAULT when it is unset or empty.
dvm_setting() {
	local key="$1" default="${2-}" var
	case "$key" in
	'' | [!A-Z]* | *[!A-Z0-9_]*)
		dvm_die "invalid setting name: $key"
		return
		;;
	esac
	var="DVM_$key"
	if [ -n "${!var-}" ]; then
		printf '%s\n' "${!var}"
	else
		printf '%s\n' "$default"
	fi
}

# dvm_bool KEY DEFAULT: prints `true` or `false` for the boolean [env] key KEY (read from
# DVM_KEY). Accepts 1/0, true/false, yes/no in any letter case. Anything else is an error
# naming the key. Use: `yolo="$(dvm_bool CODEX_YOLO true)"`.
dvm_bool() {
	local key="$1" value
	value="$(dvm_setting "$key" "${2-}")" || return
	case "${value,,}" in
	1 | true | yes) printf 'true\n' ;;
	0 | false | no) printf 'false\n' ;;
	*)
		dvm_die "[env] $key must be a boolean: true/false, yes/no or 1/0 (got '$value')"
		return
		;;
	esac
}

# --- validators: each one returns 0, or dies naming WHAT (default: a generic label) ---------

dvm_validate_port() {
	local value="$1" what="${2:-port}"
	case "$value" in
	'' | *[!0-9]* | 0*)
		dvm_die "$what must be a port number 1..65535 (got '$value')"
		return
		;;
	esac
	if [ "${#value}" -gt 5 ] || [ "$value" -gt 65535 ]; then
		dvm_die "$what must be a port number 1..65535 (got '$value')"
		return
	fi
}

# A systemd service name: NAME.service, characters [A-Za-z0-9_.@-], no `/`, no `..`.
dvm_validate_service() {
	local value="$1" what="${2:-service}"
	case "$value" in
	?*.service) ;;
	*)
		dvm_die "$what must be a systemd service name ending in .service (got '$value')"
		return
		;;
	esac
	case "$value" in
	*/* | *..* | .* | -* | *[!A-Za-z0-9_.@-]*)
		dvm_die "$what is not a valid systemd service name: '$value'"
		return
		;;
	esac
	if [ "${#value}" -gt 255 ]; then
		dvm_die "$what is too long: '$value'"
		return
	fi
}

# _dvm_validate_url SCHEMES VALUE WHAT: VALUE starts with one of SCHEMES (`https` or
# `http https`), has a host, and holds no whitespace, control characters, quotes, backslash,
# backtick, `$`, `<` or `>`. Credentials in the URL (`user:pass@host`) are refused: they
# would be secrets in the config.
_dvm_validate_url() {
	local schemes="$1" value="$2" what="$3" scheme rest authority s ok=0
	# shellcheck disable=SC1003 # a backslash and a quote inside a bracket expression
	local bad='[[:space:][:cntrl:]"`$<>\'"'"']'
	scheme="${value%%://*}"
	for s in $schemes; do
		[ "$scheme" = "$s" ] && ok=1
	done
	if [ "$ok" != 1 ] || [ "$scheme" = "$value" ]; then
		dvm_die "$what must be a ${schemes// / or } URL (got '$value')"
		return
	fi
	if [[ "$value" =~ $bad ]]; then
		dvm_die "$what contains characters that are not allowed in a URL: '$value'"
		return
	fi
	rest="${value#*://}"
	authority="${rest%%/*}"
	authority="${authority%%\?*}"
	authority="${authority%%#*}"
	case "$authority" in
	'' | :*)
		dvm_die "$what has no host: '$value'"
		return
		;;
	*@*)
		dvm_die "$what must not contain credentials (user@host); use secrets = [...] instead"
		return
		;;
	*[!A-Za-z0-9.:_~%\[\]-]*)
		dvm_die "$what has an invalid host part: '$value'"
		return
		;;
	esac
}

dvm_validate_https_url() {
	_dvm_validate_url https "$1" "${2:-URL}"
}

dvm_validate_http_url() {
	_dvm_validate_url 'http https' "$1" "${2:-URL}"
}

dvm_validate_sha256() {
	local value="$1" what="${2:-sha256}"
	if ! [[ "$value" =~ ^[0-9A-Fa-f]{64}$ ]]; then
		dvm_die "$what must be a sha256 digest of 64 hex characters (got '$value')"
		return
	fi
}

# Linux user name rules used by the config: [a-z_][a-z0-9_-]*, at most 32 characters.
dvm_validate_user_name() {
	local value="$1" what="${2:-user name}"
	if ! [[ "$value" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
		dvm_die "$what is not a valid user name: '$value'"
		return
	fi
}

# An absolute, normalised path: starts with `/`, no `.`/`..` components, no empty
# components, no control characters, no trailing `/` (except `/` itself).
dvm_validate_abs_path() {
	local value="$1" what="${2:-path}"
	case "$value" in
	/) return 0 ;;
	/*) ;;
	*)
		dvm_die "$what must be an absolute path (got '$value')"
		return
		;;
	esac
	case "$value" in
	*//* | */ | */./* | */. | */../* | */..)
		dvm_die "$what must be a normalised absolute path (got '$value')"
		return
		;;
	esac
	if [[ "$value" =~ [[:cntrl:]] ]]; then
		dvm_die "$what contains control characters"
		return
	fi
}

# --- small utilities -----------------------------------------------------------------------

dvm_sha256_of() {
	local out
	out="$(sha256sum -- "$1")" || {
		dvm_die "cannot compute the sha256 of $1"
		return
	}
	printf '%s\n' "${out%% *}"
}

dvm_arch() {
	local machine
	machine="$(uname -m)"
	case "$machine" in
	x86_64 | amd64) printf 'x86_64\n' ;;
	aarch64 | arm64) printf 'aarch64\n' ;;
	*)
		dvm_die "unsupported architecture: $machine"
		return
		;;
	esac
}

dvm_user_home() {
	local entry home
	entry="$(getent passwd -- "$1")" || {
		dvm_die "no such user: $1"
		return
	}
	home="$(printf '%s\n' "$entry" | cut -d: -f6)"
	[ -n "$home" ] || {
		dvm_die "user $1 has no home directory"
		return
	}
	printf '%s\n' "$home"
}

# dvm_toml_string VALUE: prints VALUE as a TOML basic string ("..." with escapes).
dvm_toml_string() {
	local s="$1" out='' c i code
	for ((i = 0; i < ${#s}; i++)); do
		c="${s:i:1}"
		# shellcheck disable=SC1003 # backslashes are literal in single quotes
		case "$c" in
		'"') out+='\"' ;;
		'\') out+='\\' ;;
		$'\n') out+='\n' ;;
		$'\r') out+='\r' ;;
		$'\t') out+='\t' ;;
		*)
			printf -v code '%d' "'$c"
			if [ "$code" -lt 32 ] || [ "$code" -eq 127 ]; then
				printf -v c '\\u%04X' "$code"
			fi
			out+="$c"
			;;
		esac
	done
	printf '"%s"\n' "$out"
}

# _dvm_owner_group OWNER[:GROUP]: prints "OWNER GROUP" (the group defaults to the owner's
# primary group).
_dvm_owner_group() {
	local owner="${1%%:*}" group
	if [ "$owner" != "$1" ]; then
		group="${1#*:}"
	else
		group="$(id -gn -- "$owner")" || {
			dvm_die "no such user: $owner"
			return
		}
	fi
	printf '%s %s\n' "$owner" "$group"
}

# --- files ---------------------------------------------------------------------------------
#
# Paths under the agent's home and the code directory are attacker-controlled: the agent can
# replace any of them with a symbolic link (to /etc, /usr/local/bin, the main user's files) at
# any time. The file helpers therefore never follow a link there, and never act as root where
# someone other than root can change the path:
# - every directory from / down to the file's directory is checked: no symbolic link (a
#   root-owned link reached through root-owned directories, e.g. /home -> var/home, is
#   followed), owned by root or by the file's owner (only root for a root-owned file), and
#   writable by no one else (mode bits and ACL entries; a root-owned sticky directory such as
#   /tmp is fine, as the next directory must still belong to root or the owner);
# - a symbolic link at the path itself is refused;
# - a file or directory that belongs to a user is written, created and chmod-ed as that user
#   (sudo -u OWNER), so a link swapped in after the check gets that user's rights only; root
#   only creates and chowns (chown -h, never through a link) in directories nobody else can
#   change.
# A refusal fails the recipe with an error naming the path.

# Shell functions shared by the root-side scripts below (constant text, no data in it).
_DVM_PATH_LIB=''
read -r -d '' _DVM_PATH_LIB <<'DVM_PATH_LIB' || true
#!/bin/bash
# _dvm_path_die MSG: the reason on stderr, status 1.
_dvm_path_die() {
	printf '%s\n' "$*" >&2
	return 1
}
# _dvm_path_check_dir DIR OWNER: DIR (absolute) is a directory that only root and OWNER can
# change (see the comment in _helpers.sh). Prints `root` when every directory on the way is
# root's, `owner` when one of them belongs to OWNER.
_dvm_path_check_dir() {
	local dir=$1 owner=$2 owner_uid owner_gid trust=root cur='' rest comp p t uid gid mode m links=0 acl line
	owner_uid=$(id -u -- "$owner") || { _dvm_path_die "no such user: $owner"; return; }
	owner_gid=$(id -g -- "$owner") || { _dvm_path_die "no such user: $owner"; return; }
	rest=${dir#/}
	while [ -n "$rest" ]; do
		comp=${rest%%/*}
		if [ "$comp" = "$rest" ]; then rest=''; else rest=${rest#*/}; fi
		case $comp in
		'' | .) continue ;;
		..)
			cur=${cur%/*}
			continue
			;;
		esac
		p="$cur/$comp"
		if [ -L "$p" ]; then
			uid=$(stat -c %u -- "$p") || { _dvm_path_die "cannot inspect $p"; return; }
			if [ "$uid" != 0 ] || [ "$trust" != root ] || [ "$links" -ge 8 ]; then
				_dvm_path_die "refusing to follow the symbolic link $p (remove it, or replace it with a directory, and sync again)"
				return
			fi
			links=$((links + 1))
			t=$(readlink -- "$p") || { _dvm_path_die "cannot read the link $p"; return; }
			case $t in
			/*) cur='' ;;
			esac
			rest="${t#/}${rest:+/$rest}"
			continue
		fi
		[ -e "$p" ] || { _dvm_path_die "directory does not exist: $p"; return; }
		[ -d "$p" ] || { _dvm_path_die "not a directory: $p"; return; }
		read -r uid gid mode <<<"$(stat -c '%u %g %a' -- "$p")"
		if [ "$uid" != 0 ]; then
			if [ "$uid" != "$owner_uid" ] || [ "$owner_uid" = 0 ]; then
				t=root
				[ "$owner_uid" = 0 ] || t="root or $owner"
				_dvm_path_die "refusing to write below $p: it belongs to $(stat -c %U -- "$p"), not to $t"
				return
			fi
			trust=owner
		fi
		m=$((8#$mode))
		if [ $((m & 8#1000)) != 0 ] && [ "$uid" = 0 ]; then
			: # sticky and root's (/tmp): others cannot replace what is in it
		elif [ $((m & 8#002)) != 0 ]; then
			_dvm_path_die "refusing to write below $p: everyone can write to it"
			return
		elif [ $((m & 8#020)) != 0 ] && [ "$gid" != 0 ] && [ "$gid" != "$owner_gid" ]; then
			_dvm_path_die "refusing to write below $p: its group can write to it"
			return
		fi
		if [ $((m & 8#020)) != 0 ] && command -v getfacl >/dev/null 2>&1; then
			# With an ACL, the group bits are the mask: then no named entry may allow writing.
			acl=$(getfacl -cpE -- "$p" 2>/dev/null) || acl=''
			while IFS= read -r line; do
				case $line in
				"user:$owner:"* | "user:$owner_uid:"*) ;;
				user:?*:?w? | group:?*:?w?)
					_dvm_path_die "refusing to write below $p: the ACL entry ${line%:*} can write to it"
					return
					;;
				esac
			done <<<"$acl"
		fi
		cur=$p
	done
	printf '%s\n' "$trust"
}
DVM_PATH_LIB

# The write itself: a constant script (no data in it), run by sudo as the file's owner (root
# for a root-owned file), after _DVM_PATH_LIB.
# Arguments: PATH MODE OWNER GROUP; content (text) on stdin, held in memory. Prints 0 when PATH
# already has this content, mode and owner (then nothing on disk is touched, not even the
# directory), else 1 after replacing PATH: the new file is created next to PATH (same file
# system, so the final rename is atomic; a rename never follows a link), with mode 0600 until
# it is complete, so a secret never sits in a readable file.
_DVM_WRITE_FILE_SCRIPT=''
read -r -d '' _DVM_WRITE_FILE_SCRIPT <<'DVM_WRITE_FILE' || true
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /
path=$1 mode=$2 owner=$3 group=$4
content=$(cat; printf x)
content=${content%x}
dir=$(dirname -- "$path")
_dvm_path_check_dir "$dir" "$owner" >/dev/null
if [ -L "$path" ]; then
	echo "refusing to write through the symbolic link $path (remove it and sync again)" >&2
	exit 1
fi
if [ -d "$path" ]; then echo "is a directory: $path" >&2; exit 1; fi
want=$(printf "%o %s %s" "$((8#$mode))" "$owner" "$group")
if [ -f "$path" ] && [ "$(stat -c "%a %U %G" -- "$path")" = "$want" ] &&
	printf '%s' "$content" | cmp -s - "$path"; then
	echo 0
	exit 0
fi
tmp=$(umask 077 && mktemp -- "$dir/.dvm-write.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
printf '%s' "$content" >"$tmp"
chown -- "$owner:$group" "$tmp"
chmod -- "$mode" "$tmp"
mv -fT -- "$tmp" "$path"
trap - EXIT
echo 1
DVM_WRITE_FILE

# _dvm_as_user USER CMD...: CMD as USER (through sudo unless USER is the current user), with a
# fixed PATH of root-owned directories and in /.
_dvm_as_user() {
	local user="$1"
	shift
	if [ "$user" = "$(id -un)" ]; then
		(cd / && PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@")
	else
		sudo -n -u "$user" -- /usr/bin/env -C / \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
	fi
}

# dvm_write_file PATH MODE OWNER[:GROUP]: writes stdin to PATH atomically, only when the
# content, mode or owner differ. Sets DVM_CHANGED to 1 when it wrote, else 0. The parent
# directory must exist and must not be changeable by anyone but root and OWNER; PATH must not
# be a symbolic link (see above). MODE is octal (e.g. 0644). Root writes it when only root can
# change the directories on the way; otherwise OWNER does (through sudo).
dvm_write_file() {
	local path="$1" mode="$2" og owner group result actor
	DVM_CHANGED=0
	dvm_validate_abs_path "$path" "file path" || return
	if ! [[ "$mode" =~ ^0?[0-7]{3}$ ]]; then
		dvm_die "invalid file mode for $path: $mode"
		return
	fi
	og="$(_dvm_owner_group "$3")" || return
	owner="${og%% *}"
	group="${og#* }"
	actor="$owner"
	if [ "$owner" != root ]; then
		result="$(sudo -n /usr/bin/env -C / /bin/bash -c "$_DVM_PATH_LIB"$'\n''_dvm_path_check_dir "$(dirname -- "$1")" "$2"' \
			dvm-check-dir "$path" "$owner")" || {
			dvm_die "cannot write $path"
			return
		}
		[ "$result" != root ] || actor=root
	fi
	result="$(_dvm_as_user "$actor" /bin/bash -c "$_DVM_PATH_LIB"$'\n'"$_DVM_WRITE_FILE_SCRIPT" \
		dvm-write-file "$path" "$mode" "$owner" "$group")" || {
		dvm_die "cannot write $path"
		return
	}
	[ "$result" != 1 ] || DVM_CHANGED=1
}

# The root-side inspection for dvm_ensure_dir (constant, after _DVM_PATH_LIB). Arguments: PATH
# OWNER. Prints the trust of the parent (root/owner, see _dvm_path_check_dir), then `missing`,
# or `dir MODE USER GROUP`.
_DVM_DIR_STATE_SCRIPT=''
read -r -d '' _DVM_DIR_STATE_SCRIPT <<'DVM_DIR_STATE' || true
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /
path=$1 owner=$2
trust=$(_dvm_path_check_dir "$(dirname -- "$path")" "$owner")
if [ -L "$path" ]; then
	echo "refusing to follow the symbolic link $path (remove it and sync again)" >&2
	exit 1
elif [ ! -e "$path" ]; then
	printf '%s missing\n' "$trust"
elif [ ! -d "$path" ]; then
	echo "exists and is not a directory: $path" >&2
	exit 1
else
	printf '%s dir %s\n' "$trust" "$(stat -c '%a %U %G' -- "$path")"
fi
DVM_DIR_STATE

# dvm_ensure_dir PATH MODE OWNER[:GROUP]: creates PATH (its parent must exist) or fixes its
# mode/owner, only when they differ. Sets DVM_CHANGED. PATH and its parents must not be
# symbolic links and must be changeable by root and OWNER only (see above).
dvm_ensure_dir() {
	local path="$1" mode="$2" og owner group want state trust cur
	DVM_CHANGED=0
	dvm_validate_abs_path "$path" "directory path" || return
	if ! [[ "$mode" =~ ^0?[0-7]{3}$ ]]; then
		dvm_die "invalid directory mode for $path: $mode"
		return
	fi
	og="$(_dvm_owner_group "$3")" || return
	owner="${og%% *}"
	group="${og#* }"
	printf -v want '%o %s %s' "$((8#$mode))" "$owner" "$group"
	state="$(sudo -n /usr/bin/env -C / /bin/bash -c "$_DVM_PATH_LIB"$'\n'"$_DVM_DIR_STATE_SCRIPT" \
		dvm-ensure-dir "$path" "$owner")" || {
		dvm_die "cannot set up the directory $path"
		return
	}
	trust="${state%% *}"
	state="${state#* }"
	cur="${state#dir }"
	[ "$cur" = "$want" ] && return 0
	if [ "$state" = missing ]; then
		if [ "$trust" = root ]; then
			# Nobody but root can change the parent: root creates it.
			sudo -n install -d -m "$mode" -o "$owner" -g "$group" -- "$path" || {
				dvm_die "cannot create $path"
				return
			}
		else
			# The parent belongs to OWNER: OWNER creates it.
			_dvm_as_user "$owner" mkdir -m "$mode" -- "$path" || {
				dvm_die "cannot create $path as $owner"
				return
			}
			if [ "$group" != "$(id -gn -- "$owner")" ]; then
				sudo -n chown -h -- "$owner:$group" "$path"
			fi
		fi
	else
		# chown -h changes a link swapped in after the check, never its target.
		if [ "${cur#* }" != "$owner $group" ]; then
			sudo -n chown -h -- "$owner:$group" "$path"
		fi
		if [ "${cur%% *}" != "${want%% *}" ]; then
			if [ "$owner" = root ]; then
				sudo -n chmod -- "$mode" "$path"
			else
				_dvm_as_user "$owner" chmod -- "$mode" "$path" || {
					dvm_die "cannot set the mode of $path as $owner"
					return
				}
			fi
		fi
	fi
	DVM_CHANGED=1
}

# dvm_as_agent_read_file PATH: prints the agent's file PATH (nothing when it does not exist),
# read as the agent user: a file the agent cannot read stays unread. A symbolic link is
# refused, naming the path.
dvm_as_agent_read_file() {
	local path="$1" rc=0
	dvm_validate_abs_path "$path" "file path" || return
	# shellcheck disable=SC2016 # a constant script; the path is its argument
	dvm_as_agent /bin/bash -c 'if [ -L "$1" ]; then exit 3; fi; if [ ! -e "$1" ]; then exit 0; fi; exec cat -- "$1"' \
		dvm-read-file "$path" || rc=$?
	case "$rc" in
	0) ;;
	3)
		dvm_die "refusing to read through the symbolic link $path (remove it and sync again)"
		return
		;;
	*)
		dvm_die "cannot read $path as ${DVM_AGENT_USER:-dvm-agent}"
		return
		;;
	esac
}

# --- packages and services -----------------------------------------------------------------

# dvm_pkg_installed PKG: true when an installed package is or provides PKG.
dvm_pkg_installed() {
	rpm -q --quiet --whatprovides "$1" >/dev/null 2>&1
}

# dvm_need_commands CMD:PKG...: installs PKG for each CMD that is not on PATH.
dvm_need_commands() {
	local spec pkgs=()
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null 2>&1 || pkgs+=("${spec#*:}")
	done
	[ "${#pkgs[@]}" -eq 0 ] || dvm_pkg_install "${pkgs[@]}"
}

# dvm_pkg_install PKG...: one `dnf5 install` for the packages that are not installed yet;
# nothing at all when every one is installed. One rpm query answers the usual case (all
# installed: rpm's status counts the missing ones, so fewer than 256 names keep it exact).
dvm_pkg_install() {
	local pkg missing=()
	if [ "$#" -lt 256 ] && rpm -q --quiet --whatprovides "$@" >/dev/null 2>&1; then
		return 0
	fi
	for pkg in "$@"; do
		if ! dvm_pkg_installed "$pkg"; then
			missing+=("$pkg")
		fi
	done
	[ "${#missing[@]}" -gt 0 ] || return 0
	dvm_info "installing ${missing[*]}"
	sudo dnf5 install -y "${missing[@]}" </dev/null
}

# dvm_dnf_addrepo URL REPO_FILE: adds a repository from a .repo file URL, once. REPO_FILE is
# the file dnf5 saves it as (under /etc/yum.repos.d).
dvm_dnf_addrepo() {
	local url="$1" file="$2"
	dvm_validate_https_url "$url" "repository URL" || return
	[ -e "$file" ] && return 0
	dvm_pkg_install dnf5-plugins
	dvm_info "adding repository $url"
	sudo dnf5 config-manager addrepo --from-repofile="$url" </dev/null
	if [ ! -e "$file" ]; then
		dvm_die "dnf5 did not create $file from $url"
		return
	fi
}

# dvm_unit_enable_now UNIT: `systemctl enable` unless enabled, `start` unless active.
# Sets DVM_CHANGED=1 when it started the unit (so a caller need not restart it).
dvm_unit_enable_now() {
	local unit="$1"
	DVM_CHANGED=0
	if ! sudo systemctl is-enabled --quiet "$unit" 2>/dev/null; then
		sudo systemctl enable "$unit"
	fi
	if ! sudo systemctl is-active --quiet "$unit" 2>/dev/null; then
		sudo systemctl start "$unit"
		DVM_CHANGED=1
	fi
}

dvm_user_in_group() {
	local g
	for g in $(id -nG -- "$1" 2>/dev/null); do
		[ "$g" = "$2" ] && return 0
	done
	return 1
}

# dvm_add_user_to_group USER GROUP: creates GROUP (system group) if missing, adds USER once.
dvm_add_user_to_group() {
	local user="$1" group="$2"
	if ! getent group -- "$group" >/dev/null; then
		sudo groupadd --system -- "$group"
	fi
	if ! dvm_user_in_group "$user" "$group"; then
		dvm_info "adding $user to group $group (takes effect at the next login)"
		sudo usermod -a -G "$group" -- "$user"
	fi
}

# --- verified downloads --------------------------------------------------------------------

# dvm_download_verified URL SHA256 DEST: downloads URL (https only, also for redirects) to
# DEST and checks its sha256. On a failed download or a mismatch, DEST is removed and the
# recipe fails. DEST's directory must be writable by the guest user.
dvm_download_verified() {
	local url="$1" sha="$2" dest="$3" actual
	dvm_validate_https_url "$url" "download URL" || return
	dvm_validate_sha256 "$sha" "sha256 of $url" || return
	rm -f -- "$dest"
	if ! curl --proto '=https' --proto-redir '=https' --tlsv1.2 --fail --location \
		--silent --show-error --retry 3 --retry-delay 2 --connect-timeout 30 \
		--output "$dest" "$url" </dev/null; then
		rm -f -- "$dest"
		dvm_die "download failed: $url"
		return
	fi
	actual="$(dvm_sha256_of "$dest")" || return
	if [ "$actual" != "${sha,,}" ]; then
		rm -f -- "$dest"
		dvm_die "sha256 mismatch for $url: expected ${sha,,}, got $actual; nothing was installed"
		return
	fi
}

# _dvm_pin_marker_current MARKER URL SHA BIN...: the marker records URL and SHA and each
# installed binary still has the recorded content.
_dvm_pin_marker_current() {
	local marker="$1" url="$2" sha="$3" bin line recorded actual
	shift 3
	[ -r "$marker" ] || return 1
	grep -qxF -- "url $url" "$marker" || return 1
	grep -qxF -- "sha256 $sha" "$marker" || return 1
	for bin in "$@"; do
		[ -f "/usr/local/bin/$bin" ] && [ -x "/usr/local/bin/$bin" ] || return 1
		line="$(grep -m1 -- "^bin $bin " "$marker")" || return 1
		recorded="${line##* }"
		actual="$(sha256sum -- "/usr/local/bin/$bin" 2>/dev/null)" || return 1
		[ "${actual%% *}" = "$recorded" ] || return 1
	done
	return 0
}

# dvm_pinned_install NAME FORMAT URL SHA256 BIN...
#
# Installs BIN... from a release archive pinned by URL and sha256 into /usr/local/bin.
#   NAME    pin name [a-z0-9][a-z0-9-]*; the record is /usr/local/share/dvm/pins/NAME
#   FORMAT  tar.gz | tar.xz | zip | bin (a single bare executable)
#   BIN     executable names looked up in the archive (exactly one regular file each)
# Steps: skip when the record matches URL+sha256 and every binary is still the one recorded
# (no network). Else download with curl (https only, retries, HTTP errors fail) into a private
# temporary directory, verify the sha256 BEFORE extracting or installing anything (a mismatch
# fails the recipe with nothing installed), extract, install each binary (root:root 0755,
# atomic rename), then write the record.
#
# Per-download override from the VM config: [env] PIN_<NAME>_URL and PIN_<NAME>_SHA256
# (NAME upper-cased, `-` as `_`), always both together. They replace the bundled pin for this
# VM (for a newer release, a mirror, or local test fixtures); the same rules apply to them:
# https only, sha256 verified before anything is installed.
dvm_pinned_install() (
	local name="$1" format="$2" url="$3" sha="$4" key ov_url ov_sha work src bin marker
	local -a bins found
	shift 4
	bins=("$@")
	if ! [[ "$name" =~ ^[a-z0-9][a-z0-9-]*$ ]]; then
		dvm_die "invalid pin name: $name"
		return
	fi
	case "$format" in
	tar.gz | tar.xz | zip | bin) ;;
	*)
		dvm_die "unsupported archive format for $name: $format"
		return
		;;
	esac
	if [ "${#bins[@]}" -eq 0 ]; then
		dvm_die "no binary named for pin $name"
		return
	fi
	if [ "$format" = bin ] && [ "${#bins[@]}" -ne 1 ]; then
		dvm_die "format bin installs exactly one binary (pin $name)"
		return
	fi
	for bin in "${bins[@]}"; do
		if ! [[ "$bin" =~ ^[A-Za-z0-9_][A-Za-z0-9._+-]*$ ]]; then
			dvm_die "invalid binary name for pin $name: $bin"
			return
		fi
	done

	key="PIN_${name^^}"
	key="${key//-/_}"
	ov_url="$(dvm_setting "${key}_URL")"
	ov_sha="$(dvm_setting "${key}_SHA256")"
	if [ -n "$ov_url" ] || [ -n "$ov_sha" ]; then
		if [ -z "$ov_url" ] || [ -z "$ov_sha" ]; then
			dvm_die "[env] ${key}_URL and ${key}_SHA256 must be set together"
			return
		fi
		dvm_validate_https_url "$ov_url" "[env] ${key}_URL"
		dvm_validate_sha256 "$ov_sha" "[env] ${key}_SHA256"
		url="$ov_url"
		sha="$ov_sha"
	fi
	dvm_validate_https_url "$url" "download URL of $name"
	dvm_validate_sha256 "$sha" "sha256 of $name"
	sha="${sha,,}"

	marker="$DVM_PINS_DIR/$name"
	if _dvm_pin_marker_current "$marker" "$url" "$sha" "${bins[@]}"; then
		return 0
	fi

	dvm_need_commands curl:curl sha256sum:coreutils
	work="$(mktemp -d "${TMPDIR:-/tmp}/dvm-pin-$name.XXXXXXXX")"
	# shellcheck disable=SC2064 # expand $work now, while the local variable is in scope
	trap "rm -rf -- $(printf '%q' "$work")" EXIT
	dvm_info "downloading $url${ov_url:+ (pinned by [env] ${key}_URL)}"
	dvm_download_verified "$url" "$sha" "$work/download"

	# Verified: from here on the archive is the pinned one.
	mkdir -- "$work/x"
	case "$format" in
	tar.gz)
		dvm_need_commands tar:tar gzip:gzip
		tar -xzf "$work/download" -C "$work/x" --no-same-owner --no-same-permissions
		;;
	tar.xz)
		dvm_need_commands tar:tar xz:xz
		tar -xJf "$work/download" -C "$work/x" --no-same-owner --no-same-permissions
		;;
	zip)
		dvm_need_commands unzip:unzip
		unzip -q "$work/download" -d "$work/x"
		;;
	bin)
		mv -- "$work/download" "$work/x/${bins[0]}"
		;;
	esac

	# Find every binary before installing any of them.
	local -A srcs=()
	for bin in "${bins[@]}"; do
		mapfile -t found < <(find "$work/x" -type f -name "$bin" -print)
		if [ "${#found[@]}" -ne 1 ]; then
			dvm_die "expected exactly one file named $bin in the $name download, found ${#found[@]}"
			return
		fi
		srcs[$bin]="${found[0]}"
	done

	sudo install -d -m 0755 -o root -g root /usr/local/bin "$DVM_PINS_DIR"
	local record
	record="# dvm pinned download, written by the ${DVM_RECIPE:-?} recipe"$'\n'
	record+="url $url"$'\n'"sha256 $sha"$'\n'
	for bin in "${bins[@]}"; do
		src="${srcs[$bin]}"
		sudo install -m 0755 -o root -g root -- "$src" "/usr/local/bin/.$bin.dvm-new"
		sudo mv -fT -- "/usr/local/bin/.$bin.dvm-new" "/usr/local/bin/$bin"
		record+="bin $bin $(dvm_sha256_of "/usr/local/bin/$bin")"$'\n'
		dvm_info "installed /usr/local/bin/$bin"
	done
	printf '%s' "$record" | dvm_write_file "$marker" 0644 root:root
)

# --- the agent user (see the agent-user recipe) --------------------------------------------

# dvm_require_agent_user: the AI recipes call this first. The agent-user recipe's
# dvm_every_sync sets DVM_AGENT_READY=1 and DVM_AGENT_HOME when it has run earlier in this sync
# (it runs whether or not the recipe itself was unchanged and skipped).
dvm_require_agent_user() {
	if [ "${DVM_AGENT_READY:-}" != 1 ] || [ -z "${DVM_AGENT_HOME:-}" ]; then
		dvm_die "needs the agent-user recipe earlier in the list: recipes = [\"agent-user\", \"${DVM_RECIPE:-...}\"]"
		return
	fi
}

# dvm_as_agent CMD...: runs CMD as the agent user with a clean login-like environment, in the
# agent's home (the caller's working directory may not be readable by the agent). PATH holds
# root-owned directories only: CMD and every tool it calls are system programs, never one the
# agent put in ~/.local/bin (those run only inside the sandbox, through the wrappers).
dvm_as_agent() {
	local agent="${DVM_AGENT_USER:-dvm-agent}" home
	home="$(dvm_user_home "$agent")" || return
	sudo -n -H -u "$agent" -- /usr/bin/env -i \
		HOME="$home" USER="$agent" LOGNAME="$agent" SHELL=/bin/bash LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/usr/bin/env -C "$home" -- "$@" </dev/null
}

# dvm_agent_write_wrapper NAME TARGET [ARGS...]: writes /usr/local/bin/NAME (root, 0755), which
# runs `TARGET ARGS... "$@"` as the agent user through dvm-ai-bwrap, with the caller's
# working directory mapped into /workspace.
dvm_agent_write_wrapper() {
	local name="$1" target="$2" text arg
	shift 2
	dvm_require_agent_user || return
	if ! [[ "$name" =~ ^[a-z0-9][a-z0-9._-]*$ ]]; then
		dvm_die "invalid wrapper name: $name"
		return
	fi
	dvm_validate_abs_path "$target" "wrapper target" || return
	text="#!/bin/bash
# $name: runs $target as ${DVM_AGENT_USER:-dvm-agent} inside Bubblewrap (dvm-ai-bwrap).
# Written by the dvm ${DVM_RECIPE:-?} recipe; a sync overwrites local changes.
exec /usr/local/libexec/dvm-ai-bwrap --user $(printf '%q' "${DVM_AGENT_USER:-dvm-agent}") --home $(printf '%q' "$DVM_AGENT_HOME") --code-dir $(printf '%q' "$DVM_CODE_DIR") --workdir \"\$PWD\" -- $(printf '%q' "$target")"
	for arg in "$@"; do
		text+=" $(printf '%q' "$arg")"
	done
	text+=' "$@"'
	printf '%s\n' "$text" | dvm_write_file "/usr/local/bin/$name" 0755 root:root
}

# dvm_agent_npm_install PACKAGE: installs or updates the npm PACKAGE (its latest release) into
# the agent's ~/.local; nothing happens when the installed version is the latest one.
dvm_agent_npm_install() {
	local pkg="$1" latest current manifest
	dvm_require_agent_user || return
	latest="$(dvm_as_agent npm view "$pkg" version)" || {
		dvm_die "cannot look up the latest version of $pkg on npm"
		return
	}
	if ! [[ "$latest" =~ ^[0-9A-Za-z.+-]+$ ]]; then
		dvm_die "unexpected version of $pkg from npm: '$latest'"
		return
	fi
	manifest="$DVM_AGENT_HOME/.local/lib/node_modules/$pkg/package.json"
	# Read as the agent (a link there yields only what the agent may read anyway).
	current="$(dvm_as_agent cat -- "$manifest" 2>/dev/null | sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)" || current=''
	[[ "$current" =~ ^[0-9A-Za-z.+-]*$ ]] || current=''
	if [ "$current" != "$latest" ]; then
		dvm_info "installing $pkg $latest for $DVM_AGENT_USER${current:+ (was $current)}"
		dvm_as_agent npm install --global --prefix "$DVM_AGENT_HOME/.local" --no-fund --no-audit "$pkg@$latest"
	fi
}

# --- ACLs ---------------------------------------------------------------------------------

# dvm_acl_has PATH ENTRY: PATH's ACL has exactly ENTRY (e.g. user:dvm-agent:--x). A symbolic
# link at PATH is not followed (it has no ACL).
dvm_acl_has() {
	local acl
	acl="$(sudo -n getfacl -P -cpE -- "$1" 2>/dev/null)" || return 1
	grep -qxF -- "$2" <<<"$acl"
}

# dvm_acl_grant PATH ENTRY: sets ENTRY (short form, e.g. u:dvm-agent:--x) unless present.
# Refuses a symbolic link at PATH, naming it.
dvm_acl_grant() {
	local long="$2"
	long="${long/#u:/user:}"
	long="${long/#d:u:/default:user:}"
	if sudo -n test -L "$1"; then
		dvm_die "refusing to set an ACL through the symbolic link $1"
		return
	fi
	if ! dvm_acl_has "$1" "$long"; then
		sudo -n setfacl -P -m "$2" -- "$1"
	fi
}

# dvm_check_parents PATH OWNER: every directory above PATH is a real directory (no symbolic
# link) that only root and OWNER can change, and PATH itself is not a symbolic link (the rules
# of dvm_write_file, checked as root). Dies naming the reason otherwise.
dvm_check_parents() {
	local msg
	msg="$(sudo -n /usr/bin/env -C / /bin/bash -c "$_DVM_PATH_LIB"$'\n''_dvm_path_check_dir "$(dirname -- "$1")" "$2" >/dev/null && if [ -L "$1" ]; then echo "refusing to follow the symbolic link $1" >&2; exit 1; fi' \
		dvm-check-parents "$1" "$2" 2>&1)" || {
		dvm_die "${msg:-cannot check $1}"
		return
	}
}
