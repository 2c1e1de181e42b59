#!/usr/bin/perl
# Evaluate SPF with Perl Mail::SPF (RFC 4408/7208, Debian libmail-spf-perl),
# resolving through the DNS server at 127.0.0.1:PORT (our NSD).
# Usage: mail-spf-check.pl PORT [TIMEOUT] < cases
# Each input line: IP<TAB>SENDER<TAB>HELO (SENDER is local@domain; the caller
# writes postmaster@HELO for the null sender). Prints one line per case:
# the result code (pass, fail, softfail, neutral, none, permerror, temperror).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use LocalNsd;
use Mail::SPF;

my $port    = shift @ARGV or die "usage: $0 PORT [TIMEOUT] < cases\n";
my $timeout = shift @ARGV || 3;

my $res = LocalNsd::resolver($port, $timeout);
my $server = Mail::SPF::Server->new(dns_resolver => $res);
$| = 1;
while (my $line = <STDIN>) {
    chomp $line;
    my ($ip, $sender, $helo) = split /\t/, $line, -1;
    my $code = eval {
        my $req = Mail::SPF::Request->new(
            scope         => 'mfrom',
            identity      => $sender,
            ip_address    => $ip,
            helo_identity => $helo,
        );
        $server->process($req)->code;
    };
    if (!defined $code) {
        my $err = $@ || 'unknown error';
        $err =~ s/\s+/ /g;
        $code = "error: $err";
    }
    print "$code\n";
}
