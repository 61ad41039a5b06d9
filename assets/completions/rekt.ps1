
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'rekt' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'rekt'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'rekt' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for owners to exit after a signal: 500ms, 3s, 1m30s, 1.5s; 0s signals without waiting (the port check still tells)')
            [CompletionResult]::new('--settle', '--settle', [CompletionResultType]::ParameterName, 'After a signal, watch a port that is free for this long, and report a process that takes it again (a supervisor''s restart; exit 3): 0s turns the watch off. Default 1s, 2s for an owner under supervisord or s6')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Ask every owner to exit (SIGTERM; on Windows, WM_CLOSE to its windows)')
            [CompletionResult]::new('--terminate', '--terminate', [CompletionResultType]::ParameterName, 'Ask every owner to exit (SIGTERM; on Windows, WM_CLOSE to its windows)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Force every owner to exit (SIGKILL; TerminateProcess on Windows); wins over -t')
            [CompletionResult]::new('--kill', '--kill', [CompletionResultType]::ParameterName, 'Force every owner to exit (SIGKILL; TerminateProcess on Windows); wins over -t')
            [CompletionResult]::new('--escalate', '--escalate', [CompletionResultType]::ParameterName, 'With -t: force the owners still running after --timeout (with -k: nothing more to do)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'With -t/-k: ask before signalling each owner. Alone: open the live view of every listener (or of the PORTs given), filtered as you type (needs a terminal)')
            [CompletionResult]::new('--interactive', '--interactive', [CompletionResultType]::ParameterName, 'With -t/-k: ask before signalling each owner. Alone: open the live view of every listener (or of the PORTs given), filtered as you type (needs a terminal)')
            [CompletionResult]::new('--include-clients', '--include-clients', [CompletionResultType]::ParameterName, 'Also signal clients: processes whose only sockets on the port are outgoing connections from ephemeral ports (a browser, ssh), which rekt otherwise shows and spares')
            [CompletionResult]::new('--include-forwarders', '--include-forwarders', [CompletionResultType]::ParameterName, 'Also signal forwarders: processes that only carry a published port for a container or a VM (docker-proxy, dockerd, rootlesskit, slirp4netns, pasta, wslrelay, Docker Desktop). Risky: it breaks the container''s published port, and signalling dockerd stops every container; without it rekt ends the container through its engine')
            [CompletionResult]::new('--partial', '--partial', [CompletionResultType]::ParameterName, 'Signal the owners rekt may signal even when another owner of the same port keeps it held (rekt''s caller, a protected PID, a forwarder whose container cannot be ended): without it, rekt signals nothing on such a port, since that would free nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask before a range of ports signals more than 8 processes (needed without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask before a range of ports signals more than 8 processes (needed without a terminal)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Add NAME, USER, TYPE (tcp, tcp6, udp, udp6), STATE, local ADDRESS, ROLE, and who started each owner: PARENTS, systemd UNIT, SUPERVISOR (with how to stop it)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Add NAME, USER, TYPE (tcp, tcp6, udp, udp6), STATE, local ADDRESS, ROLE, and who started each owner: PARENTS, systemd UNIT, SUPERVISOR (with how to stop it)')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Only listeners (listening TCP, unconnected UDP): the fast path, which skips connections')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Only listeners (listening TCP, unconnected UDP): the fast path, which skips connections')
            [CompletionResult]::new('--tcp', '--tcp', [CompletionResultType]::ParameterName, 'Only TCP sockets')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Only UDP sockets')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Only IPv4 sockets')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Only IPv4 sockets')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Only IPv6 sockets')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Only IPv6 sockets')
            [CompletionResult]::new('--all-netns', '--all-netns', [CompletionResultType]::ParameterName, 'Look in every network namespace (containers, ip netns), not just this one (Linux, root)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables and notes')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing; only the exit code tells')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing; only the exit code tells')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Trace each lookup step on stderr: socket queries, the fd scan, engines, the settle watch (also REKT_DEBUG=1)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rekt;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rekt;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rekt;help' {
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rekt;help;completions' {
            break
        }
        'rekt;help;man' {
            break
        }
        'rekt;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
