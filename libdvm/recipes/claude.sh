# Description: Claude Code from Anthropic's RPM repository, run as the agent user in Bubblewrap; bypassPermissions unless [env] CLAUDE_BYPASS = false
# Requires: agent-user
dvm_require_agent_user
local bypass settings current exists updated rc
bypass="$(dvm_bool CLAUDE_BYPASS true)"

dvm_pkg_install jq
dvm_ensure_dir /etc/yum.repos.d 0755 root:root
dvm_write_file /etc/yum.repos.d/claude-code.repo 0644 root:root <<'REPO'
[claude-code]
name=Claude Code
baseurl=https://downloads.claude.ai/claude-code/rpm/latest
enabled=1
gpgcheck=1
gpgkey=https://downloads.claude.ai/keys/claude-code.asc
REPO

if ! dvm_pkg_installed claude-code; then
	dvm_pkg_install claude-code
else
	# Upgrade only when the repository has a newer build (check-upgrade: 100 = available).
	rc=0
	sudo dnf5 -q check-upgrade claude-code >/dev/null </dev/null || rc=$?
	case "$rc" in
	0) ;;
	100)
		dvm_info "upgrading claude-code"
		sudo dnf5 upgrade -y claude-code </dev/null
		;;
	*) dvm_warn "could not check for a claude-code update (dnf5 exit status $rc)" ;;
	esac
fi

# ~/.claude/settings.json of the agent: with bypass, permissions.defaultMode is
# bypassPermissions and the one-time warning prompt is acknowledged; without it, the recipe
# removes exactly those two settings (other settings are kept). The file is the agent's, so
# it is read as the agent (never by root) and written as the agent; a symbolic link at
# ~/.claude or at settings.json fails the recipe, naming it.
dvm_ensure_dir "$DVM_AGENT_HOME/.claude" 0700 "$DVM_AGENT_USER"
settings="$DVM_AGENT_HOME/.claude/settings.json"
current="$(dvm_as_agent_read_file "$settings")"
# shellcheck disable=SC2016 # a constant script; the path is its argument
exists="$(dvm_as_agent /bin/bash -c 'if [ -e "$1" ]; then echo 1; else echo 0; fi' dvm-test "$settings")"
[ -n "$current" ] || current='{}'

if [ "$bypass" = true ]; then
	updated="$(printf '%s' "$current" | jq '.permissions = ((.permissions // {}) + {defaultMode: "bypassPermissions"}) | .skipDangerousModePermissionPrompt = true')"
	printf '%s\n' "$updated" | dvm_write_file "$settings" 0600 "$DVM_AGENT_USER"
	dvm_agent_write_wrapper claude /usr/bin/claude --permission-mode bypassPermissions
else
	if [ "$exists" = 1 ]; then
		updated="$(printf '%s' "$current" | jq 'del(.skipDangerousModePermissionPrompt) | if (.permissions | type) == "object" then (if .permissions.defaultMode == "bypassPermissions" then del(.permissions.defaultMode) else . end) | (if .permissions == {} then del(.permissions) else . end) else . end')"
		printf '%s\n' "$updated" | dvm_write_file "$settings" 0600 "$DVM_AGENT_USER"
	fi
	dvm_agent_write_wrapper claude /usr/bin/claude
fi
