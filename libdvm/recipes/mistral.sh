# Description: Mistral Vibe coding agent (commands vibe and mistral), run as the agent user in Bubblewrap
# Requires: agent-user
dvm_require_agent_user
dvm_pkg_install python3 uv

# uv leaves an up-to-date tool alone, so both steps change nothing on a second run.
if dvm_as_agent test -x "$DVM_AGENT_HOME/.local/bin/vibe"; then
	dvm_as_agent uv tool upgrade --quiet mistral-vibe
else
	dvm_info "installing mistral-vibe for $DVM_AGENT_USER"
	dvm_as_agent uv tool install --quiet mistral-vibe
fi
dvm_agent_write_wrapper vibe "$DVM_AGENT_HOME/.local/bin/vibe"
dvm_agent_write_wrapper mistral "$DVM_AGENT_HOME/.local/bin/vibe"
