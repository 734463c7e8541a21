# Description: Cloudflare Tunnel as a systemd service; the CLOUDFLARED_TOKEN secret goes only into a root-only 0600 environment file
# Service: dvm-cloudflared.service env=CLOUDFLARED_SERVICE
# Secret: CLOUDFLARED_TOKEN alias=DVM_CLOUDFLARED_TOKEN charset=token
#
# [env] CLOUDFLARED_SERVICE: the unit name (default dvm-cloudflared.service).
# Secret CLOUDFLARED_TOKEN (staged by dvm when set in the host environment): written to
# /etc/cloudflared/dvm.env (root:root 0600) as TUNNEL_TOKEN=..., which the unit reads through
# EnvironmentFile=; cloudflared takes the token from that variable, so it is in no command
# line. Without a token, an existing setup is kept as it is and a new one is not started.
local service unit env_file=/etc/cloudflared/dvm.env token_file token bin changed=0 since hits
service="$(dvm_setting CLOUDFLARED_SERVICE dvm-cloudflared.service)"
dvm_validate_service "$service" "[env] CLOUDFLARED_SERVICE"
unit="/etc/systemd/system/$service"

dvm_dnf_addrepo https://pkg.cloudflare.com/cloudflared.repo /etc/yum.repos.d/cloudflared.repo
dvm_pkg_install cloudflared
dvm_ensure_dir /etc/cloudflared 0700 root:root

token_file="${DVM_SECRET_FILE_CLOUDFLARED_TOKEN:-}"
if [ -n "$token_file" ]; then
	if [ ! -r "$token_file" ]; then
		dvm_die "the staged CLOUDFLARED_TOKEN file is missing or unreadable"
		return
	fi
	# xtrace off while the token is in a variable (a user recipe may have run `set -x`).
	dvm_xtrace_off
	token="$(dvm_secret CLOUDFLARED_TOKEN)"
	if ! [[ "$token" =~ ^[A-Za-z0-9._=-]+$ ]]; then
		token=''
		dvm_xtrace_restore
		dvm_die "the staged CLOUDFLARED_TOKEN is empty or has characters outside [A-Za-z0-9._=-]"
		return
	fi
	# printf is a shell builtin: the token is in no process's argv.
	printf 'TUNNEL_TOKEN=%s\n' "$token" | dvm_write_file "$env_file" 0600 root:root
	token=''
	dvm_xtrace_restore
	[ "$DVM_CHANGED" = 0 ] || changed=1
elif ! sudo test -f "$env_file"; then
	dvm_info "no tunnel token: set CLOUDFLARED_TOKEN in the host environment and run: dvm sync ${DVM_NAME:-NAME}"
	return 0
else
	dvm_info "no new token given; keeping the configured one"
fi

bin="$(command -v cloudflared 2>/dev/null)" || bin=/usr/bin/cloudflared
dvm_write_file "$unit" 0644 root:root <<UNIT
[Unit]
Description=DVM cloudflared tunnel
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
EnvironmentFile=$env_file
ExecStart=$bin tunnel --no-autoupdate run
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
if [ "$DVM_CHANGED" = 1 ]; then
	sudo systemctl daemon-reload
	changed=1
fi
dvm_unit_enable_now "$service"
if [ "$DVM_CHANGED" = 0 ] && [ "$changed" = 1 ]; then
	sudo systemctl restart "$service"
fi

# Post-start check: the token must never show up in the unit's journal. grep reads the
# pattern from the staged file, so the token is not in its argv either.
if [ -n "$token_file" ]; then
	since="$(sudo systemctl show --property=ActiveEnterTimestamp --value "$service" 2>/dev/null)" || since=''
	if [ -n "$since" ] && [ "$since" != n/a ]; then
		hits="$(sudo journalctl --unit="$service" --since="$since" --no-pager --output=cat 2>/dev/null | grep -cF -f "$token_file" || true)"
	else
		hits="$(sudo journalctl --unit="$service" --lines=200 --no-pager --output=cat 2>/dev/null | grep -cF -f "$token_file" || true)"
	fi
	if [ "${hits:-0}" != 0 ]; then
		dvm_warn "the journal of $service contains the tunnel token: rotate the token in Cloudflare and check who can read the logs"
	fi
fi
dvm_info "cloudflared service configured: $service"
