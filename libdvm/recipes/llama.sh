# Description: llama.cpp server as a systemd service, with GGUF models downloaded by URL and verified by sha256
# Service: dvm-llama.service env=LLAMA_SERVICE
#
# [env] keys:
#   LLAMA_MODELS         space-separated alias=https://... list of GGUF models
#   LLAMA_MODELS_SHA256  alias=sha256 list (space- or comma-separated); every model needs one
#   LLAMA_MODEL_URL, LLAMA_MODEL_SHA256
#                        shorthand for one model (alias "model")
#   LLAMA_DEFAULT_MODEL  alias served (default: the first one)
#   LLAMA_PORT (8080), LLAMA_HOST (127.0.0.1; 0.0.0.0 makes it reachable from other VMs),
#   LLAMA_SERVICE (dvm-llama.service), LLAMA_MODELS_DIR (~/models, in the guest)
#   LLAMA_REFRESH        true: check the sha256 of the served model file again and download
#                        it again if it differs (default false: the record of the verified
#                        download is trusted while the file keeps its size)
# A model is downloaded (https only) next to its target and moved into place only after its
# sha256 matched. <dir>/current.gguf links to the served model.
local port host service dir models checksums default refresh home spec alias url sha agent_home
local sel_alias='' sel_url='' sel_sha='' target record want_record size server restart=0 text
local -a model_list sha_list
port="$(dvm_setting LLAMA_PORT 8080)"
host="$(dvm_setting LLAMA_HOST 127.0.0.1)"
service="$(dvm_setting LLAMA_SERVICE dvm-llama.service)"
home="$(dvm_user_home "$DVM_USER")"
dir="$(dvm_setting LLAMA_MODELS_DIR "$home/models")"
models="$(dvm_setting LLAMA_MODELS)"
checksums="$(dvm_setting LLAMA_MODELS_SHA256)"
default="$(dvm_setting LLAMA_DEFAULT_MODEL)"
refresh="$(dvm_bool LLAMA_REFRESH false)"

dvm_validate_port "$port" "[env] LLAMA_PORT"
dvm_validate_service "$service" "[env] LLAMA_SERVICE"
if ! [[ "$host" =~ ^[A-Za-z0-9][A-Za-z0-9:._-]*$ ]]; then
	dvm_die "[env] LLAMA_HOST is not a valid address: '$host'"
	return
fi
case "$dir" in
\~) dir="$home" ;;
\~/*) dir="$home/${dir#\~/}" ;;
esac
dvm_validate_abs_path "$dir" "[env] LLAMA_MODELS_DIR"
if ! [[ "$dir" =~ ^[A-Za-z0-9._/-]+$ ]]; then
	dvm_die "[env] LLAMA_MODELS_DIR may only use letters, digits, '.', '_', '-' and '/': '$dir'"
	return
fi
# The recipe writes there as $DVM_USER and the service loads the model from there: not in a
# directory the agent user can write to.
agent_home="$(getent passwd -- "${DVM_AGENT_USER:-dvm-agent}" | cut -d: -f6)" || agent_home=''
case "$dir/" in
"${DVM_CODE_DIR:-/nonexistent}"/* | "${agent_home:-/nonexistent}"/*)
	dvm_die "[env] LLAMA_MODELS_DIR ($dir) must not be inside the code directory or the agent's home: the agent user can write there"
	return
	;;
esac

if [ -z "$models" ] && [ -n "$(dvm_setting LLAMA_MODEL_URL)" ]; then
	models="model=$(dvm_setting LLAMA_MODEL_URL)"
	if [ -n "$(dvm_setting LLAMA_MODEL_SHA256)" ]; then
		checksums="model=$(dvm_setting LLAMA_MODEL_SHA256)"
	fi
fi

# Pick the served model and its checksum (split on blanks/commas without glob expansion).
read -r -a model_list <<<"$models"
read -r -a sha_list <<<"${checksums//,/ }"
for spec in "${model_list[@]}"; do
	case "$spec" in
	?*=?*) ;;
	*)
		dvm_die "[env] LLAMA_MODELS entries are alias=https://...; got '$spec'"
		return
		;;
	esac
	alias="${spec%%=*}"
	url="${spec#*=}"
	if ! [[ "$alias" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || [ "$alias" = current ]; then
		dvm_die "invalid model alias in [env] LLAMA_MODELS: '$alias'"
		return
	fi
	dvm_validate_https_url "$url" "[env] LLAMA_MODELS URL of $alias"
	[ -n "$default" ] || default="$alias"
	if [ "$alias" = "$default" ]; then
		sel_alias="$alias"
		sel_url="$url"
	fi
done
for spec in "${sha_list[@]}"; do
	alias="${spec%%=*}"
	sha="${spec#*=}"
	if [ "$alias" = "$spec" ]; then
		dvm_die "[env] LLAMA_MODELS_SHA256 entries are alias=sha256; got '$spec'"
		return
	fi
	dvm_validate_sha256 "$sha" "[env] LLAMA_MODELS_SHA256 of $alias"
	if [ "$alias" = "$sel_alias" ]; then
		sel_sha="${sha,,}"
	fi
done
if [ -n "$models" ] && [ -z "$sel_alias" ]; then
	dvm_die "[env] LLAMA_DEFAULT_MODEL '$default' is not an alias in LLAMA_MODELS"
	return
fi
if [ -n "$sel_alias" ] && [ -z "$sel_sha" ]; then
	dvm_die "model $sel_alias has no sha256: add $sel_alias=<sha256> to [env] LLAMA_MODELS_SHA256"
	return
fi

dvm_pkg_install llama-cpp curl
mkdir -p -- "$dir"

if [ -n "$sel_alias" ]; then
	target="$dir/$sel_alias.gguf"
	record="$target.dvm-pin"
	want_record="url $sel_url"$'\n'"sha256 $sel_sha"
	size=''
	if [ -f "$target" ] && [ -f "$record" ] && [ "$(head -n 2 -- "$record")" = "$want_record" ]; then
		size="$(stat -c %s -- "$target")"
		if [ "$(sed -n 's/^size //p' -- "$record")" != "$size" ]; then
			size=''
		elif [ "$refresh" = true ] && [ "$(dvm_sha256_of "$target")" != "$sel_sha" ]; then
			dvm_warn "$target does not match its sha256; downloading it again"
			size=''
		fi
	fi
	if [ -z "$size" ]; then
		dvm_info "downloading model $sel_alias from $sel_url"
		dvm_download_verified "$sel_url" "$sel_sha" "$dir/.$sel_alias.gguf.part"
		mv -f -- "$dir/.$sel_alias.gguf.part" "$target"
		printf '%s\nsize %s\n' "$want_record" "$(stat -c %s -- "$target")" >"$record"
		restart=1
	fi
	if [ "$(readlink -- "$dir/current.gguf" 2>/dev/null)" != "$sel_alias.gguf" ]; then
		ln -sfn -- "$sel_alias.gguf" "$dir/current.gguf"
		restart=1
	fi
fi

server="$(command -v llama-server 2>/dev/null)" || server=/usr/bin/llama-server
text="[Unit]
Description=DVM llama.cpp server
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$DVM_USER
WorkingDirectory=$dir
ExecStart=$server -m $dir/current.gguf --host $host --port $port
Restart=on-failure
RestartSec=3

[Install]
WantedBy=multi-user.target"
printf '%s\n' "$text" | dvm_write_file "/etc/systemd/system/$service" 0644 root:root
if [ "$DVM_CHANGED" = 1 ]; then
	sudo systemctl daemon-reload
	restart=1
fi

if [ -e "$dir/current.gguf" ]; then
	dvm_unit_enable_now "$service"
	if [ "$DVM_CHANGED" = 0 ] && [ "$restart" = 1 ]; then
		sudo systemctl restart "$service"
	fi
	dvm_info "http://$host:$port (model ${sel_alias:-current.gguf}, service $service)"
else
	dvm_info "no model yet: set [env] LLAMA_MODELS and LLAMA_MODELS_SHA256 (or put a GGUF file at $dir/current.gguf) and sync again"
fi
