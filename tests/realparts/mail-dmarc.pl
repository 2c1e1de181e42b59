#!/usr/bin/perl
# Mail::DMARC (RFC 7489, Public Suffix List) as an oracle for qmail-dkim's DMARC.
# stdin: JSON lines {"from": dom, "spf": [[domain, result], ...], "dkim": [[domain, selector, result], ...]}
# argv: DNS server port on 127.0.0.1.  stdout: one JSON line per input line:
# {"result": pass|fail|none, "disposition": ..., "dkim": pass|fail, "spf": pass|fail, "p": ..., "sp": ...}
use strict;
use warnings;
use JSON::PP;
use Net::DNS::Resolver;
use Mail::DMARC::PurePerl;

my $port = shift or die "usage: mail-dmarc.pl PORT\n";
my $json = JSON::PP->new->canonical;
$| = 1;
while (my $line = <STDIN>) {
    my $in = $json->decode($line);
    my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $port,
                                      recurse => 0, dnsrch => 0, defnames => 0,
                                      udp_timeout => 5, tcp_timeout => 5);
    my $d = Mail::DMARC::PurePerl->new;
    $d->set_resolver($res);
    $d->header_from($in->{from});
    $d->source_ip('192.0.2.1');
    $d->envelope_to('example.org');
    $d->envelope_from($in->{envfrom} || $in->{from});
    $d->spf([map { { domain => $_->[0], scope => 'mfrom', result => $_->[1] } } @{$in->{spf}}]);
    $d->dkim([map { { domain => $_->[0], selector => $_->[1], result => $_->[2] } } @{$in->{dkim}}]);
    my $r = $d->validate;
    my $pub = eval { $r->published };
    print $json->encode({
        result      => $r->result,
        disposition => $r->disposition,
        dkim        => $r->dkim // '',
        spf         => $r->spf // '',
        p           => $pub ? ($pub->p // '') : '',
        sp          => $pub ? ($pub->sp // '') : '',
        domain      => $pub ? ($pub->domain // '') : '',
    }), "\n";
}
