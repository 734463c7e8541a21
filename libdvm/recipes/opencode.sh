# Description: opencode AI coding agent, run as the agent user in Bubblewrap
# Requires: agent-user
dvm_require_agent_user
dvm_pkg_install nodejs npm
dvm_agent_npm_install opencode-ai
dvm_agent_write_wrapper opencode "$DVM_AGENT_HOME/.local/bin/opencode"
