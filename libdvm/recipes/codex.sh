# Description: OpenAI Codex CLI, run as the agent user in Bubblewrap; unattended (bypass flag) unless [env] CODEX_YOLO = false
# Requires: agent-user
dvm_require_agent_user
local yolo
yolo="$(dvm_bool CODEX_YOLO true)"

dvm_pkg_install nodejs npm
dvm_agent_npm_install @openai/codex

# The wrapper /usr/local/bin/codex is the only place the flag lives: turning CODEX_YOLO off
# rewrites it without the flag. Bubblewrap is the sandbox either way.
if [ "$yolo" = true ]; then
	dvm_agent_write_wrapper codex "$DVM_AGENT_HOME/.local/bin/codex" --dangerously-bypass-approvals-and-sandbox
else
	dvm_agent_write_wrapper codex "$DVM_AGENT_HOME/.local/bin/codex"
fi
