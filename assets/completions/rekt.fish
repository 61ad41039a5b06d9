# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rekt_global_optspecs
    string join \n t/terminate k/kill timeout= escalate i/interactive include-clients include-forwarders partial y/yes settle= v/verbose l/listen tcp udp 4/ipv4 6/ipv6 all-netns json q/quiet debug h/help V/version
end

function __fish_rekt_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rekt_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rekt_using_subcommand
    set -l cmd (__fish_rekt_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rekt -n "__fish_rekt_needs_command" -l timeout -d 'How long to wait for owners to exit after a signal: 500ms, 3s, 1m30s, 1.5s; 0s signals without waiting (the port check still tells)' -r -f
complete -c rekt -n "__fish_rekt_needs_command" -l settle -d 'After a signal, watch a port that is free for this long, and report a process that takes it again (a supervisor\'s restart; exit 3): 0s turns the watch off. Default 1s, 2s for an owner under supervisord or s6' -r -f
complete -c rekt -n "__fish_rekt_needs_command" -s t -l terminate -d 'Ask every owner to exit (SIGTERM; on Windows, WM_CLOSE to its windows)'
complete -c rekt -n "__fish_rekt_needs_command" -s k -l kill -d 'Force every owner to exit (SIGKILL; TerminateProcess on Windows); wins over -t'
complete -c rekt -n "__fish_rekt_needs_command" -l escalate -d 'With -t: force the owners still running after --timeout (with -k: nothing more to do)'
complete -c rekt -n "__fish_rekt_needs_command" -s i -l interactive -d 'With -t/-k: ask before signalling each owner. Alone: open the live view of every listener (or of the PORTs given), filtered as you type (needs a terminal)'
complete -c rekt -n "__fish_rekt_needs_command" -l include-clients -d 'Also signal clients: processes whose only sockets on the port are outgoing connections from ephemeral ports (a browser, ssh), which rekt otherwise shows and spares'
complete -c rekt -n "__fish_rekt_needs_command" -l include-forwarders -d 'Also signal forwarders: processes that only carry a published port for a container or a VM (docker-proxy, dockerd, rootlesskit, slirp4netns, pasta, wslrelay, Docker Desktop). Risky: it breaks the container\'s published port, and signalling dockerd stops every container; without it rekt ends the container through its engine'
complete -c rekt -n "__fish_rekt_needs_command" -l partial -d 'Signal the owners rekt may signal even when another owner of the same port keeps it held (rekt\'s caller, a protected PID, a forwarder whose container cannot be ended): without it, rekt signals nothing on such a port, since that would free nothing'
complete -c rekt -n "__fish_rekt_needs_command" -s y -l yes -d 'Do not ask before a range of ports signals more than 8 processes (needed without a terminal)'
complete -c rekt -n "__fish_rekt_needs_command" -s v -l verbose -d 'Add NAME, USER, TYPE (tcp, tcp6, udp, udp6), STATE, local ADDRESS, ROLE, and who started each owner: PARENTS, systemd UNIT, SUPERVISOR (with how to stop it)'
complete -c rekt -n "__fish_rekt_needs_command" -s l -l listen -d 'Only listeners (listening TCP, unconnected UDP): the fast path, which skips connections'
complete -c rekt -n "__fish_rekt_needs_command" -l tcp -d 'Only TCP sockets'
complete -c rekt -n "__fish_rekt_needs_command" -l udp -d 'Only UDP sockets'
complete -c rekt -n "__fish_rekt_needs_command" -s 4 -l ipv4 -d 'Only IPv4 sockets'
complete -c rekt -n "__fish_rekt_needs_command" -s 6 -l ipv6 -d 'Only IPv6 sockets'
complete -c rekt -n "__fish_rekt_needs_command" -l all-netns -d 'Look in every network namespace (containers, ip netns), not just this one (Linux, root)'
complete -c rekt -n "__fish_rekt_needs_command" -l json -d 'Print one JSON document on stdout instead of tables and notes'
complete -c rekt -n "__fish_rekt_needs_command" -s q -l quiet -d 'Print nothing; only the exit code tells'
complete -c rekt -n "__fish_rekt_needs_command" -l debug -d 'Trace each lookup step on stderr: socket queries, the fd scan, engines, the settle watch (also REKT_DEBUG=1)'
complete -c rekt -n "__fish_rekt_needs_command" -s h -l help -d 'Print help'
complete -c rekt -n "__fish_rekt_needs_command" -s V -l version -d 'Print version'
complete -c rekt -n "__fish_rekt_needs_command" -a "completions" -d 'Print a shell completion script'
complete -c rekt -n "__fish_rekt_needs_command" -a "man" -d 'Print the man page (roff)'
complete -c rekt -n "__fish_rekt_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rekt -n "__fish_rekt_using_subcommand completions" -s h -l help -d 'Print help'
complete -c rekt -n "__fish_rekt_using_subcommand man" -s h -l help -d 'Print help'
complete -c rekt -n "__fish_rekt_using_subcommand help; and not __fish_seen_subcommand_from completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c rekt -n "__fish_rekt_using_subcommand help; and not __fish_seen_subcommand_from completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c rekt -n "__fish_rekt_using_subcommand help; and not __fish_seen_subcommand_from completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
