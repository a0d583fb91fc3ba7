# nginx as the remote cache for kiln's remote tests and bench/remote.sh.
# Source it after lib.sh (it uses free_port, at_exit and fail).
#
#	start_nginx DIR [TOKEN]
#
# serves DIR/data over WebDAV (PUT and DELETE; folders listed as JSON by
# autoindex, for kiln gc/fsck --remote) on a free loopback port and sets $remote to its
# URL and $nginx_pid. With TOKEN, PUT needs "Authorization: Bearer TOKEN"
# (or basic authentication as user ci, password TOKEN, as a netrc file gives)
# and GET/HEAD stay open to all: the set-up docs/remote-cache.md recommends.
# nginx is stopped by its pid when the script ends.
start_nginx() {
	local dir=$1 token=${2:-} port i auth=""
	command -v nginx >/dev/null || fail "nginx is not installed (bootstrap.sh installs nginx-light)"
	port=$(free_port)
	mkdir -p "$dir/data" "$dir/body" "$dir/logs"
	# Workers may run as nobody when the tests run as root.
	chmod 777 "$dir/data" "$dir/body"
	if [ -n "$token" ]; then
		# A long token needs a bigger bucket than the default 64 bytes.
		auth="
	map_hash_bucket_size 256;
	map \$http_authorization \$kiln_writer { default 0; \"Bearer $token\" 1; \"Basic $(printf 'ci:%s' "$token" | base64)\" 1; }
	map \$request_method:\$kiln_writer \$kiln_deny { default 0; PUT:0 1; DELETE:0 1; MKCOL:0 1; }"
	fi
	cat >"$dir/nginx.conf" <<CONF
worker_processes 2;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/body;
	fastcgi_temp_path $dir/body;
	uwsgi_temp_path $dir/body;
	scgi_temp_path $dir/body;
	sendfile on;
	keepalive_requests 100000;$auth
	server {
		listen 127.0.0.1:$port;
		root $dir/data;
		client_max_body_size 0;
		location / {
			$( [ -n "$token" ] && echo 'if ($kiln_deny) { return 403; }' )
			dav_methods PUT DELETE;
			create_full_put_path on;
			autoindex on;
			autoindex_format json;
			dav_access user:rw group:r all:r;
		}
	}
}
CONF
	nginx -p "$dir" -c "$dir/nginx.conf" -g "daemon off; pid $dir/nginx.pid;" >"$dir/logs/stderr" 2>&1 &
	nginx_pid=$!
	at_exit "kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null"
	remote=http://127.0.0.1:$port
	for i in $(seq 100); do
		curl -s -o /dev/null "$remote/" && return 0
		kill -0 $nginx_pid 2>/dev/null || break
		sleep 0.05
	done
	fail "nginx did not start: $(cat "$dir/logs/stderr" "$dir/logs/error.log" 2>/dev/null)"
}
